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

from courses import roles
from payments.models import Payment

from .pages import admin_url

pytestmark = pytest.mark.django_db

DJANGO_APP_LIST = Path(django.contrib.admin.__file__).parent / "templates" / "admin" / "app_list.html"


@pytest.fixture(params=["superuser", roles.FINANCE, roles.SUPPORT, "merchant", "nobody"])
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
    if viewer.is_superuser:
        assert any(model["model"] is Payment for app in ours for model in app["models"])


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
