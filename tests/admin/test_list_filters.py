"""The filter sidebar written by ``{% kpay_list_filters cl %}`` (``core.admin.list_filters``)
is Django's: each list page rendered both ways (kpay's, then Django's ``admin_list_filter``
for every filter), for platform and merchant staff, in both languages, with filters chosen,
counts shown, hostile names and a search in Chinese; and the sidebar's markup around the
filters is Django's block with that one line changed."""

from pathlib import Path
from urllib.parse import quote

import django.contrib.admin
import pytest
from django.contrib.admin.templatetags.admin_list import admin_list_filter
from django.urls import reverse
from django.utils import timezone

import core.admin.list_filters as list_filters
from orders.models import Order
from payments.models import JournalEntry, Payment, Refund

from .pages import HOSTILE, admin_url, without_token

pytestmark = pytest.mark.django_db

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "admin"
DJANGO_TEMPLATES = Path(django.contrib.admin.__file__).parent / "templates" / "admin"


@pytest.fixture
def lists(own_merchant, other_merchant, own_course, other_course, pay):
    from settlement.services.statements import statements_generate
    from tests.factories import UserFactory

    other_merchant.name = f"Theirs {HOSTILE}"
    other_merchant.save(update_fields=["name"])
    for course in (own_course, other_course):
        pay(UserFactory(), course)
    statements_generate(period_start=timezone.localdate(), now=timezone.now() + timezone.timedelta(days=1))


PAGES = [
    (Order, ""),
    (Order, f"?status__exact=fulfilled&merchant__id__exact=1&q={quote('中文 <b>&')}"),
    (Order, "?promoter_id__isempty=1&created_at__gte=2020-01-01+00%3A00%3A00%2B08%3A00"),
    (Order, "?_facets=True&status__exact=paid"),
    (Payment, ""),
    (Payment, "?status__exact=succeeded&o=-3"),
    (Refund, "?origin__exact=learner"),
    (JournalEntry, "?kind__exact=payment"),
    ("admin:settlement_merchantbalance_changelist", "?balance=debt"),
    ("admin:settlement_settlementstatement_changelist", ""),
]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("who", ["superuser", "merchant"])
def test_the_filters_are_djangos(client, who, language, superuser, merchant_user, lists, monkeypatch):
    client.force_login(superuser if who == "superuser" else merchant_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    written = []
    filter_html = list_filters.filter_html
    monkeypatch.setattr(
        list_filters, "filter_html", lambda cl, spec: written.append(spec) or filter_html(cl, spec)
    )
    rendered = []  # filters left to Django's template by kpay's tag: none here
    monkeypatch.setattr(list_filters, "admin_list_filter", lambda cl, spec: rendered.append(spec))
    for page, query in PAGES:
        url = (reverse(page) if isinstance(page, str) else admin_url(page)) + query
        ours = client.get(url)
        assert rendered == [], url
        assert ours.status_code == 200, url
        with monkeypatch.context() as stock:
            stock.setattr(list_filters, "filter_html", admin_list_filter)
            djangos = client.get(url).text
        assert without_token(ours.text) == without_token(djangos), url
        assert "<script>alert" not in ours.text, url
    assert written, "no page had a filter"
    if who == "superuser":
        assert "Theirs &lt;script&gt;" in ours.text  # the statements' merchant filter


def test_an_overridden_filter_template_is_rendered_by_django(rf, superuser, settings, tmp_path):
    """Only Django's own ``admin/filter.html`` is written in Python: a project's override
    of it (or a filter's own template) is rendered as Django renders it."""
    import copy

    from django.contrib import admin

    (tmp_path / "admin").mkdir()
    (tmp_path / "admin" / "filter.html").write_text("<p>{{ title }}: {{ choices|length }} choices</p>")
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [str(tmp_path), *templates[0]["DIRS"]]
    settings.TEMPLATES = templates
    request = rf.get(admin_url(Order))
    request.user = superuser
    changelist = admin.site.get_model_admin(Order).get_changelist_instance(request)
    spec = changelist.filter_specs[0]
    shown = list_filters.filter_html(changelist, spec)
    assert shown.endswith(" choices</p>")
    assert shown == admin_list_filter(changelist, spec)


def test_the_sidebar_is_djangos_block_but_for_the_filters_line():
    def block(path):
        text = path.read_text()
        return text[
            text.index("{% block filters %}") : text.index(
                "{% endblock %}", text.index("{% block filters %}")
            )
        ]

    ours = block(TEMPLATES / "change_list.html")
    djangos = block(DJANGO_TEMPLATES / "change_list.html")
    stock_line = "{% for spec in cl.filter_specs %}{% admin_list_filter cl spec %}{% endfor %}"
    assert stock_line in djangos
    assert ours == djangos.replace(stock_line, "{% kpay_list_filters cl %}")
