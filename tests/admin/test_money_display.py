"""Staff read and type amounts in yuan, through one widget and one display rule: typed
"49.90", kept 4990; shown "¥49.90"; bad input a form error, never a 500 or a rounded amount."""

import pytest
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.test import RequestFactory
from django.urls import NoReverseMatch
from django.utils import translation

from core.admin import yuan
from core.money import FenField, YuanField, YuanInput
from courses.models import Course

from .pages import admin_url
from .test_translations import kpay_apps

pytestmark = pytest.mark.django_db


def course_form(merchant, price, **more):
    return {
        "merchant": merchant.pk,
        "title": "Rust 入门",
        "slug": "rust-basics",
        "summary": "",
        "description": "",
        "price": price,
        "currency": "CNY",
        "status": "published",
        "lessons-TOTAL_FORMS": "0",
        "lessons-INITIAL_FORMS": "0",
        **more,
    }


@pytest.mark.parametrize(
    ("typed", "fen"), [("49.90", 4990), ("49.9", 4990), ("¥1,049.90", 104990), ("４９.９０", 4990)]
)
def test_a_course_price_typed_in_yuan_is_kept_in_fen(client, superuser, own_merchant, typed, fen):
    client.force_login(superuser)
    response = client.post(admin_url(Course, "add"), course_form(own_merchant, typed))
    assert response.status_code == 302, response.context["adminform"].form.errors
    course = Course.objects.get(slug="rust-basics")
    assert course.price == fen

    page = client.get(admin_url(Course, "change", course.pk)).content.decode()
    assert f'value="{fen // 100}.{fen % 100:02d}"' in page  # shown in yuan in its box
    assert "kpay-yuan-sign" in page  # the ¥ before it
    listed = client.get(admin_url(Course)).content.decode()
    assert yuan(fen) in listed


@pytest.mark.parametrize("typed", ["4.999", "abc", "-1", "0", "1e3", "NaN", ""])
def test_a_bad_price_is_a_form_error_not_a_500(client, superuser, own_merchant, typed):
    client.force_login(superuser)
    response = client.post(admin_url(Course, "add"), course_form(own_merchant, typed))
    assert response.status_code == 200
    assert "price" in response.context["adminform"].form.errors
    assert not Course.objects.exists()


def test_the_price_error_says_yuan_in_chinese(client, superuser, own_merchant):
    client.force_login(superuser)
    response = client.post(
        admin_url(Course, "add"), course_form(own_merchant, "abc"), headers={"accept-language": "zh-hans"}
    )
    with translation.override("zh-hans"):
        assert str(YuanField.default_error_messages["invalid"]) in response.content.decode()


def test_an_unchanged_price_is_not_a_change(client, superuser, own_course):
    """The box shows 99.00 for 9900 fen: sending it back is no change (the history says so)."""
    client.force_login(superuser)
    form = client.get(admin_url(Course, "change", own_course.pk)).context["adminform"].form
    assert form["price"].value() == "99.00"
    bound = type(form)(
        data={**form.initial, "price": "99.00", "merchant": own_course.merchant_id}, instance=own_course
    )
    assert "price" not in bound.changed_data


def _has_change_page(model) -> bool:
    try:
        admin_url(model, "change", 1)
    except NoReverseMatch:
        return False
    return True


def _request(user):
    request = RequestFactory().get("/")
    request.user = user
    return request


def test_no_admin_shows_an_amount_raw_and_every_amount_box_is_in_yuan(superuser):
    """Every kpay admin: a FenField is never a column or read-only field as is (that shows
    fen), and a FenField a form edits gets the yuan box."""
    request = _request(superuser)
    labels = {config.label for config in kpay_apps()}
    raw, boxes = [], 0
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in labels:
            continue
        admins = [(model, model_admin)] + [(i.model, i) for i in model_admin.get_inline_instances(request)]
        for shown_model, shown_admin in admins:
            fen = {f.name for f in shown_model._meta.concrete_fields if isinstance(f, FenField)}
            names = set(flatten_fieldsets(shown_admin.get_fieldsets(request)))
            if shown_admin is model_admin and not _has_change_page(model):
                names = set()  # a list-only admin (the dashboard, the balances)
            readonly = set(shown_admin.get_readonly_fields(request)) | (
                names if not shown_admin.has_change_permission(request) else set()
            )
            shown = set(getattr(shown_admin, "list_display", ())) | readonly
            raw += [f"{shown_model._meta.label}.{name}" for name in shown & fen]
            if shown_admin is model_admin and model_admin.has_add_permission(request):
                form = model_admin.get_form(request)()
                for name in names & fen - readonly:
                    field = form.fields[name]
                    assert isinstance(field, YuanField) and isinstance(field.widget, YuanInput), name
                    boxes += 1
    assert not raw, f"amounts shown in fen: {raw}"
    assert boxes >= 4  # course price, coupon amount off, discount cap, minimum spend


@pytest.mark.parametrize(
    ("fen", "shown"), [(4990, "¥49.90"), (123456789, "¥1,234,567.89"), (-150, "-¥1.50"), (None, "-")]
)
def test_one_display_rule(fen, shown):
    assert yuan(fen) == shown
