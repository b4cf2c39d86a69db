"""What every admin page costs before its rows: the list of apps and models (the sidebar,
the home page) is Django's, built and rendered for less (``core.admin_app_list``,
``core.templatetags.admin_nav``), with the same permission checks."""

import re
from pathlib import Path

import django.contrib.admin
import pytest
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.template import Context, engines
from django.test import RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from courses import roles
from payments.models import Payment

from .pages import admin_url, without_token

pytestmark = pytest.mark.django_db

DJANGO_APP_LIST = Path(django.contrib.admin.__file__).parent / "templates" / "admin" / "app_list.html"


@pytest.fixture(params=["superuser", roles.FINANCE, roles.SUPPORT, roles.RISK, "merchant", "nobody"])
def viewer(request, superuser, staff_in, merchant_user):
    if request.param == "superuser":
        return superuser
    if request.param == "merchant":
        return merchant_user
    if request.param == "nobody":
        from tests.factories import UserFactory

        return UserFactory(username="staff-without-role", is_staff=True)
    return staff_in(request.param)


def request_for(user, path="/admin/"):
    request = RequestFactory().get(path)
    request.user = user
    return request


def plain(app_list):
    """The list with its lazy names as text (Django's are lazy, kpay's already text)."""
    return [
        {**app, "name": str(app["name"]), "models": [{**m, "name": str(m["name"])} for m in app["models"]]}
        for app in app_list
    ]


def django_app_list(request, app_label=None):
    """The stock ``AdminSite.get_app_list`` with kpay's registry."""
    return AdminSite.get_app_list(_StockSite(admin.site), request, app_label)


class _StockSite(AdminSite):
    def __init__(self, site):
        super().__init__(name=site.name)
        self._registry = site._registry


def test_the_app_list_is_djangos_for_every_role(viewer):
    request = request_for(viewer)
    ours = admin.site.get_app_list(request)
    assert plain(ours) == plain(django_app_list(request))
    assert plain(admin.site.get_app_list(request, "payments")) == plain(django_app_list(request, "payments"))
    # The names are kept per language: each language's are Django's in that language.
    names = {}
    for language in ("en", "zh-hans", "en"):
        with translation.override(language):
            names[language] = plain(admin.site.get_app_list(request))
            assert names[language] == plain(django_app_list(request))
    assert not names["en"] or names["en"] != names["zh-hans"]
    if viewer.is_superuser:
        assert any(model["model"] is Payment for app in ours for model in app["models"])


def test_the_app_list_follows_the_url_configuration(viewer):
    """The URLs are looked up once per URL configuration and script prefix, each Django's."""
    from django.test import override_settings
    from django.urls import set_script_prefix

    request = request_for(viewer)
    assert plain(admin.site.get_app_list(request)) == plain(django_app_list(request))
    with override_settings(ROOT_URLCONF="tests.admin.floor_urls"):
        moved = plain(admin.site.get_app_list(request))
        assert moved == plain(django_app_list(request))
        assert all(app["app_url"].startswith("/back-office/") for app in moved)
    set_script_prefix("/kpay/")
    try:
        prefixed = plain(admin.site.get_app_list(request))
        assert prefixed == plain(django_app_list(request))
        assert all(app["app_url"].startswith("/kpay/admin/") for app in prefixed)
    finally:
        set_script_prefix("/")
    assert plain(admin.site.get_app_list(request)) == plain(django_app_list(request))
    if moved:
        assert moved != plain(admin.site.get_app_list(request))


def test_a_model_registered_later_is_listed_with_its_urls(superuser, settings):
    from payments.models import PaymentStatusChange

    request = request_for(superuser)
    admin.site.get_app_list(request)  # the URLs of the models registered so far, kept
    settings.ROOT_URLCONF = "tests.admin.floor_urls"
    admin.site.get_app_list(request)
    admin.site.register(PaymentStatusChange)
    try:
        settings.ROOT_URLCONF = "kpay.urls"
        settings.ROOT_URLCONF = "tests.admin.floor_urls"  # Django's resolver built again
        ours = plain(admin.site.get_app_list(request))
        assert ours == plain(django_app_list(request))
        (payments,) = [app for app in ours if app["app_label"] == "payments"]
        (added,) = [model for model in payments["models"] if model["model"] is PaymentStatusChange]
        assert added["admin_url"] == "/back-office/payments/paymentstatuschange/"
    finally:
        admin.site.unregister(PaymentStatusChange)
    assert PaymentStatusChange not in [
        m["model"] for app in admin.site.get_app_list(request) for m in app["models"]
    ]


def test_a_permission_change_shows_in_the_next_app_list(staff_in, role_group):
    """Nothing is kept between users or requests: granting or taking a permission or a
    role shows at once, the module permission included (asked once per app where Django
    asks once per model: the same question)."""
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    def app_list_of(user):
        request = request_for(type(user).objects.get(pk=user.pk))  # a new request's user
        ours = plain(admin.site.get_app_list(request))
        assert ours == plain(django_app_list(request))
        return {app["app_label"]: {model["object_name"]: model for model in app["models"]} for app in ours}

    def names(app_list):
        return {label: sorted(models) for label, models in app_list.items()}

    finance = staff_in(roles.FINANCE)
    bare = UserFactory(username="bare-staff", is_staff=True)
    before = names(app_list_of(bare))  # what any staff member sees (their own jobs)
    assert "payments" not in before and "courses" not in before
    bare.groups.add(role_group(roles.SUPPORT))
    support = app_list_of(bare)
    assert "Payment" in support["payments"] and support["courses"]["Category"]["add_url"] is None
    add_category = Permission.objects.get(codename="add_category")
    bare.user_permissions.add(add_category)
    assert app_list_of(bare)["courses"]["Category"]["add_url"] == "/admin/courses/category/add/"
    assert app_list_of(finance)["courses"].get("Category") is None  # another user's list
    bare.groups.remove(role_group(roles.SUPPORT))
    assert names(app_list_of(bare)) == {**before, "courses": ["Category"]}  # the permission alone
    bare.user_permissions.remove(add_category)
    assert names(app_list_of(bare)) == before


def squeeze(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


@pytest.mark.parametrize("show_changelinks", [False, True])
@pytest.mark.parametrize("path", ["/admin/", "/admin/payments/payment/", "/admin/payments/"])
def test_the_app_list_markup_is_djangos(viewer, show_changelinks, path):
    request = request_for(viewer, path)
    app_list = admin.site.get_app_list(request)
    context = {"app_list": app_list, "request": request, "show_changelinks": show_changelinks}
    engine = engines["django"].engine
    stock = engine.from_string(DJANGO_APP_LIST.read_text()).render(Context(context))
    ours = engine.get_template("admin/app_list.html").render(Context(context))
    assert squeeze(ours) == squeeze(stock)
    if path != "/admin/" and any(app["app_label"] == "payments" for app in app_list):
        assert ours.count("current-app") == 1


def test_names_in_the_app_list_are_escaped(superuser, monkeypatch):
    request = request_for(superuser)
    app_list = admin.site.get_app_list(request)
    app_list[0]["name"] = 'Evil <script>"'
    app_list[0]["models"][0]["name"] = "<b>bold</b>"
    html = (
        engines["django"]
        .engine.get_template("admin/app_list.html")
        .render(Context({"app_list": app_list, "request": request}))
    )
    assert "<script>" not in html and "<b>" not in html
    assert "Evil &lt;script&gt;&quot;" in html and "&lt;b&gt;bold&lt;/b&gt;" in html


def test_an_admin_page_shows_the_sidebar_with_the_users_models_only(client, merchant_user):
    client.force_login(merchant_user)
    page = client.get(admin_url(Payment)).text
    assert 'id="nav-sidebar"' in page
    assert admin_url(Payment) in page
    assert "/admin/auth/user/" not in page and "/admin/payments/gatewayevent/" not in page


# -- the rows ------------------------------------------------------------------------
@pytest.mark.parametrize("who", ["superuser", "merchant"])
def test_list_rows_are_djangos(
    client, who, superuser, merchant_user, own_course, other_course, pay, monkeypatch
):
    """Every large list, as the platform and as a merchant, filtered or not, shows exactly
    what Django's own row rendering shows, and through kpay's rows."""
    import core.admin.rows as rows
    from orders.models import Order
    from payments.models import JournalEntry, Refund
    from payments.services import refund_request
    from settlement.services.statements import statements_generate
    from tests.factories import UserFactory

    for course in (own_course, other_course, own_course):
        order, _ = pay(UserFactory(), course)
    refund_request(learner=order.learner, order_no=order.order_no, amount=100, reason="a <b>reason</b>")
    # A statement per merchant (today's, as if made tomorrow night).
    statements_generate(period_start=timezone.localdate(), now=timezone.now() + timezone.timedelta(days=1))
    client.force_login(superuser if who == "superuser" else merchant_user)
    fast_rows = []
    fast_path = rows._fast_path
    monkeypatch.setattr(rows, "_fast_path", lambda cl: fast_rows.append(cl) or fast_path(cl))
    pages = [
        admin_url(Order),
        admin_url(Order) + "?status__exact=fulfilled&o=2",
        admin_url(Payment),
        admin_url(Payment) + "?status__exact=succeeded",
        admin_url(Refund),
        admin_url(JournalEntry),
        admin_url(JournalEntry) + "?kind__exact=payment",
        # Balances: no column links to a row (``list_display_links = None``).
        reverse("admin:settlement_merchantbalance_changelist"),
        reverse("admin:settlement_settlementstatement_changelist"),
    ]
    for url in pages:
        ours = client.get(url)
        assert ours.status_code == 200, url
        assert fast_path(fast_rows[-1]), url
        assert 'class="field-' in ours.text, url
        with monkeypatch.context() as stock:
            stock.setattr(rows, "_fast_path", lambda cl: False)
            django_page = client.get(url).text
        assert without_token(ours.text) == without_token(django_page), url


@pytest.mark.parametrize("query", ["", "?status__exact=succeeded&q=P1", "?merchant__id__exact=1&o=-3"])
def test_the_merchant_filter_offers_djangos_choices(superuser, own_merchant, other_merchant, query):
    """Each merchant's link is the list's query string with that merchant (Django builds
    the string again per merchant; kpay once)."""
    from django.contrib.admin import SimpleListFilter

    request = request_for(superuser, admin_url(Payment) + query)
    request.GET = request.GET.copy()
    changelist = admin.site.get_model_admin(Payment).get_changelist_instance(request)
    (merchants,) = [
        spec
        for spec in changelist.filter_specs
        if getattr(spec, "parameter_name", "") == "merchant__id__exact"
    ]

    def shown(choices):
        return [{**choice, "display": str(choice["display"])} for choice in choices]

    ours = shown(merchants.choices(changelist))
    assert ours == shown(SimpleListFilter.choices(merchants, changelist))
    assert len(ours) == 3 and other_merchant.name in [choice["display"] for choice in ours]


# -- the header's links ----------------------------------------------------------------
BASE_SITE = Path(__file__).resolve().parents[2] / "templates" / "admin" / "base_site.html"


@pytest.fixture
def stock_header(tmp_path, settings):
    """kpay's ``admin/base_site.html`` as it would be with Django's own header: its
    ``userlinks`` block left to Django's ``admin/base.html``, ``{% url %}`` everywhere."""

    def use():
        text = BASE_SITE.read_text()
        start, end = text.index("{% block userlinks %}"), text.index("{% block nav-global %}")
        text = (text[:start] + text[end:]).replace("{% admin_page_url ", "{% url ")
        assert "admin_page_url" not in text.replace("{% load i18n static admin_nav %}", "")
        (tmp_path / "admin").mkdir(exist_ok=True)
        (tmp_path / "admin" / "base_site.html").write_text(text)
        settings.TEMPLATES = [{**settings.TEMPLATES[0], "DIRS": [tmp_path, *settings.TEMPLATES[0]["DIRS"]]}]

    return use


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_admin_pages_have_djangos_header(client, viewer, language, stock_header):
    """Every role's home, app page, empty list and password page, in both languages, is
    the page Django's header gives (``{% url %}`` per page), byte for byte."""
    if not viewer.is_superuser and viewer.username == "staff-without-role":
        viewer.set_unusable_password()  # no "Change password" link
        viewer.save()
    client.force_login(viewer)
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    pages = [
        "/admin/",
        "/admin/payments/",
        admin_url(Payment) + "?status__exact=failed",
        "/admin/core/job/",
    ]
    ours = {url: client.get(url, **headers) for url in pages}
    stock_header()
    for url, response in ours.items():
        django_page = client.get(url, **headers)
        assert response.status_code == django_page.status_code, url
        if response.status_code == 200:
            assert 'id="logout-form"' in response.text, url
            assert without_token(response.text) == without_token(django_page.text), url
    if viewer.is_superuser:
        assert ours["/admin/"].status_code == 200 and 'href="/admin/password_change/"' in ours["/admin/"].text


def test_admin_page_url_is_urls(rf, settings):
    """The tag gives what ``{% url %}`` gives under another URL configuration, script
    prefix, language and current app; a name that does not reverse raises as ``{% url %}``
    does, or gives "" with ``as``."""
    from django.template import TemplateSyntaxError
    from django.urls import NoReverseMatch, set_script_prefix

    engine = engines["django"].engine
    ours = engine.from_string(
        "{% load admin_nav %}{% admin_page_url 'admin:logout' %} {% admin_page_url 'admin:index' %}"
        " {% admin_page_url 'nowhere' as gone %}[{{ gone }}]"
    )
    stock = engine.from_string(
        "{% url 'admin:logout' %} {% url 'admin:index' %} {% url 'nowhere' as gone %}[{{ gone }}]"
    )

    def both(request=None):
        context = {"request": request} if request is not None else {}
        first, second = ours.render(Context(context)), stock.render(Context(context))
        assert first == second
        return first

    assert both() == "/admin/logout/ /admin/ []"
    request = rf.get("/admin/")
    request.current_app = "admin"
    assert both(request) == "/admin/logout/ /admin/ []"
    for language in ("zh-hans", "en"):
        with translation.override(language):
            assert both(request) == "/admin/logout/ /admin/ []"
    set_script_prefix("/kpay/")
    try:
        assert both(request) == "/kpay/admin/logout/ /kpay/admin/ []"
    finally:
        set_script_prefix("/")
    settings.ROOT_URLCONF = "tests.admin.floor_urls"
    assert both(request) == "/back-office/logout/ /back-office/ []"
    settings.ROOT_URLCONF = "kpay.urls"
    assert both(request) == "/admin/logout/ /admin/ []"
    for _ in range(2):  # cached as "not found", still raised without "as"
        with pytest.raises(NoReverseMatch):
            engine.from_string("{% load admin_nav %}{% admin_page_url 'nowhere' %}").render(Context({}))
    with pytest.raises(TemplateSyntaxError):
        engine.from_string("{% load admin_nav %}{% admin_page_url 'admin:app_list' 'payments' %}")
