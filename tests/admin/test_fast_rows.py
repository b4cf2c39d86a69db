"""The changelists' tables written by ``core.admin.rows`` and ``core.admin.results_table``
are Django's, character for character: every large list rendered both ways (kpay's, then
Django's ``items_for_result`` and ``change_list_results.html``) for platform and merchant
staff, in both languages, with hostile names, sorted by several columns, without rows, and
with a search that holds the change link's key placeholder."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

import core.admin.rows as rows
from core.admin import results_table
from core.admin.escaping import html_text
from core.admin_urls import PK_PLACEHOLDER
from orders.models import Order
from payments.models import JournalEntry, Payment, Refund

from .pages import HOSTILE, admin_url, without_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def hostile_lists(own_merchant, other_merchant, own_course, other_course, pay):
    """Orders, payments, a refund, journal entries and statements whose texts need escaping."""
    from payments.services import refund_request
    from settlement.services.statements import statements_generate
    from tests.factories import UserFactory

    own_merchant.name = f"Ours {HOSTILE}"
    own_merchant.save(update_fields=["name"])
    other_merchant.name = "Theirs & <b>bold</b>"
    other_merchant.save(update_fields=["name"])
    order = None
    for index, course in enumerate((own_course, other_course, own_course)):
        order, _ = pay(UserFactory(username=f"{PK_PLACEHOLDER}-buyer-{index}"), course)
    refund_request(learner=order.learner, order_no=order.order_no, amount=100, reason=HOSTILE)
    statements_generate(period_start=timezone.localdate(), now=timezone.now() + timezone.timedelta(days=1))


PAGES = [
    (Order, ""),
    (Order, "?status__exact=fulfilled&o=2"),
    (Order, f"?q={PK_PLACEHOLDER}"),
    (Order, "?o=-6.2.-1"),  # sorted by three columns: each header's priority and toggles
    (Order, "?status__exact=expired"),  # no rows  # the search (and so each row's link) holds the placeholder
    (Payment, ""),
    (Payment, "?status__exact=succeeded&o=-3.1"),
    (Refund, ""),
    (JournalEntry, ""),
    (JournalEntry, "?kind__exact=payment"),
    ("admin:settlement_merchantbalance_changelist", ""),  # no column links to a row
    ("admin:settlement_settlementstatement_changelist", ""),
]


@pytest.mark.parametrize("language", ["zh-hans", "en"])
@pytest.mark.parametrize("who", ["superuser", "merchant"])
def test_fast_rows_are_djangos(client, who, language, superuser, merchant_user, hostile_lists, monkeypatch):
    client.force_login(superuser if who == "superuser" else merchant_user)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = language
    used = []
    fast_path = rows._fast_path
    monkeypatch.setattr(rows, "_fast_path", lambda cl: used.append(fast_path(cl)) or used[-1])
    tables = []
    write = results_table.results_table
    monkeypatch.setattr(results_table, "results_table", lambda cl: tables.append(write(cl)) or tables[-1])
    for page, query in PAGES:
        url = (reverse(page) if isinstance(page, str) else admin_url(page)) + query
        ours = client.get(url)
        assert ours.status_code == 200, url
        assert used[-1] and tables[-1] is not None, url
        assert 'class="field-' in ours.text or "expired" in url, url
        with monkeypatch.context() as stock:
            stock.setattr(rows, "_fast_path", lambda cl: False)
            djangos = client.get(url).text
        assert without_token(ours.text) == without_token(djangos), url
        assert "<script>alert" not in ours.text, url
    assert html_text(f"Ours {HOSTILE}") in ours.text  # the statements' merchant column


def test_the_key_placeholder_in_a_search_stays_in_the_link(client, superuser, hostile_lists):
    """Each row links to its own page, the list's search (which holds the placeholder)
    kept as it was typed."""
    client.force_login(superuser)
    page = client.get(admin_url(Order) + f"?q={PK_PLACEHOLDER}").text
    links = re.findall(r'<th class="field-order_no"><a href="([^"]+)">', page)
    orders = Order.objects.filter(learner__username__startswith=PK_PLACEHOLDER).order_by("-created_at", "-pk")
    assert links == [
        f"{admin_url(Order, 'change', order.pk)}?_changelist_filters=q%3D{PK_PLACEHOLDER}" for order in orders
    ]


@pytest.mark.parametrize(
    "value",
    ["plain", "<b>&amp;</b>", "", 12, None, "中文 & 'quotes'"],
)
def test_html_text_is_conditional_escape(value):
    from django.utils.html import conditional_escape, format_html
    from django.utils.translation import gettext_lazy

    for shown in (value, format_html("<i>{}</i>", value), gettext_lazy("Filter") if value is None else value):
        assert html_text(shown) == str(conditional_escape(shown))


@pytest.mark.parametrize("shape", ["Y-m-d H:i", "y/n/j G:i:s", "N j, Y, P", r"Y\年n\月j\日 D H:i T"])
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "UTC"])
def test_a_datetime_cell_is_djangos(shape, zone, monkeypatch):
    """The page's datetime cells (the format split once; numbers alone without
    ``DateFormat``) read as Django's ``formats.localize(template_localtime(value))``, in
    any format and zone, across a daylight-saving change."""
    import datetime
    import zoneinfo

    from django.utils import formats, translation

    from core.admin.rows import _DateTimeCells

    stock = formats.get_format

    def get_format(name, **kwargs):
        return shape if name == "DATETIME_FORMAT" else stock(name, **kwargs)

    monkeypatch.setattr(formats, "get_format", get_format)
    utc = datetime.UTC
    values = [
        datetime.datetime(2026, 3, 8, 6, 59, 59, tzinfo=utc),
        datetime.datetime(2026, 11, 1, 5, 30, tzinfo=utc),  # 1:30 twice in New York
        datetime.datetime(999, 1, 2, 0, 5, tzinfo=utc),
        datetime.datetime(2026, 12, 31, 23, 59, 1, tzinfo=utc),
        datetime.datetime(2026, 6, 1, 12, 0),  # naive
    ]
    with translation.override("en"), timezone.override(zoneinfo.ZoneInfo(zone)):
        cells = _DateTimeCells()
        assert (cells.numbers is not None) == (shape in ("Y-m-d H:i", "y/n/j G:i:s"))
        for value in values:
            assert cells(value) == formats.localize(timezone.template_localtime(value)), value


@pytest.mark.parametrize("who", ["superuser", "merchant"])
def test_every_admin_list_is_djangos(client, who, superuser, merchant_user, hostile_lists, monkeypatch):
    """Every registered model's list, kpay's rendering or Django's, reads the same; kpay's
    rows are used wherever a list links its rows as Django's ``ChangeList`` does."""
    from django.contrib import admin

    client.force_login(superuser if who == "superuser" else merchant_user)
    used = []
    fast_path = rows._fast_path
    monkeypatch.setattr(rows, "_fast_path", lambda cl: used.append(fast_path(cl)) or used[-1])
    compared = 0
    for model in admin.site._registry:
        url = admin_url(model)
        ours = client.get(url)
        if ours.status_code != 200:  # a list this user may not see, or a page that is no list
            continue
        with monkeypatch.context() as stock:
            stock.setattr(rows, "_fast_path", lambda cl: False)
            djangos = client.get(url).text
        assert without_token(ours.text) == without_token(djangos), url
        compared += 1
    assert compared >= (20 if who == "superuser" else 8)
    assert sum(used) >= (10 if who == "superuser" else 5)


@pytest.mark.parametrize("who", ["superuser", "merchant"])
@pytest.mark.parametrize("model", [Order, Payment, Refund, JournalEntry])
def test_a_list_reading_only_its_columns_is_the_same_list(
    client, who, model, superuser, merchant_user, hostile_lists, monkeypatch
):
    """``list_only``: the page reads fewer columns, shows the same, and reads no field
    again per row (the same number of queries or fewer)."""
    from django.contrib import admin
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(superuser if who == "superuser" else merchant_user)
    model_admin = admin.site.get_model_admin(model)
    assert model_admin.list_only
    with CaptureQueriesContext(connection) as narrow:
        ours = client.get(admin_url(model))
    with monkeypatch.context() as whole, CaptureQueriesContext(connection) as wide:
        whole.setattr(model_admin, "list_only", ())
        everything = client.get(admin_url(model))
    assert ours.status_code == everything.status_code == 200
    assert len(ours.context["cl"].result_list) >= 1
    assert without_token(ours.text) == without_token(everything.text)
    assert len(narrow) <= len(wide)
    table = f'"{model._meta.db_table}"'
    page = [query["sql"] for query in narrow.captured_queries if f"FROM {table}" in query["sql"]][-1]
    assert f'{table}."created_at"' in page and f'{table}."currency"' not in page


def test_an_overridden_results_template_gets_djangos_items(
    client, superuser, hostile_lists, settings, tmp_path
):
    """A project's own ``change_list_results.html`` is rendered by Django with kpay's rows
    in Django's shape: a list of cells per row."""
    import copy

    (tmp_path / "admin" / "orders" / "order").mkdir(parents=True)
    (tmp_path / "admin" / "orders" / "order" / "change_list_results.html").write_text(
        "{% for result in results %}<tr>{% for item in result %}[{{ item }}]{% endfor %}</tr>{% endfor %}"
    )
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [str(tmp_path), *templates[0]["DIRS"]]
    settings.TEMPLATES = templates
    client.force_login(superuser)
    page = client.get(admin_url(Order)).text
    rows_shown = re.findall(r"<tr>(\[.*?\])</tr>", page)
    assert len(rows_shown) == Order.objects.count() == 3
    assert all(row.count("][") == 5 for row in rows_shown)  # six cells, each an item
