"""The back office in Chinese: every name, label, heading and status staff see is Chinese,
statuses are shown by their labels (never their codes), and amounts never in fen. And
the API answers in the request's language."""

import io
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets, get_fields_from_path, label_for_field
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.core.management import call_command
from django.db import models
from django.test import RequestFactory
from django.urls import NoReverseMatch
from django.utils import timezone, translation

from core.admin.history import TRANSITION_LABELS
from core.jobs import job_create
from courses.models import Course
from devtools.simulators.wechatpay.models import WxTrade
from devtools.simulators.wechatpay.views import trade_bill
from orders.models import Order
from payments.gateways import get_gateway
from payments.services import refund_issue
from reconciliation.services import reconciliation_upload, yesterday
from riskcontrol.models import Rule
from riskcontrol.services import rule_save
from tests.factories import CouponFactory, UserFactory

from .pages import admin_url

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")
# Names that stay as they are in Chinese too.
ASCII_TERMS = {
    "API",
    "CIDR",
    "CNY",
    "CSV",
    "HTTP",
    "ID",
    "IP",
    "JPEG",
    "JSON",
    "Kpay",
    "MB",
    "PNG",
    "SHA",
    "TOTP",
    "URL",
    "WebP",
    "code_url",
    "com",
    "example",
    "kpay",
    "openid",
    "params",
    "redirect_url",
}


def kpay_apps():
    """kpay's own apps (devtools, development only, is left out: it is never in production)."""
    base = Path(settings.BASE_DIR)
    return [
        config
        for config in apps.get_app_configs()
        if Path(config.path).is_relative_to(base)
        and ".venv" not in Path(config.path).parts
        and not config.name.startswith("devtools")
    ]


BEING_BUILT: set[str] = set()  # apps whose names and labels are not translated yet


def in_chinese(text) -> str:
    with translation.override("zh-hans"):
        return str(text)


def test_every_app_and_model_of_kpay_is_named_in_chinese():
    missing = []
    for config in kpay_apps():
        if config.label in BEING_BUILT:
            continue
        if not CJK.search(in_chinese(config.verbose_name)):
            missing.append(f"app {config.label}: {config.verbose_name}")
        for model in config.get_models():
            for name in ("verbose_name", "verbose_name_plural"):
                value = getattr(model._meta, name)
                if not CJK.search(in_chinese(value)):
                    missing.append(f"{model._meta.label}.{name}: {value}")
    assert not missing, "\n".join(missing)


def _kpay_admins():
    labels = {config.label for config in kpay_apps()} - BEING_BUILT
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label in labels:
            yield model, model_admin


def test_every_label_staff_see_is_chinese(admin_user):
    """Column headers, filters and form labels of every kpay admin and its inlines, and the
    choices of the fields they show."""
    request = RequestFactory().get("/")
    request.user = admin_user
    missing = set()

    def check(model, model_admin, names, form=None):
        for name in names:
            if not isinstance(name, str) or name == "__str__":
                continue
            with translation.override("zh-hans"):
                if form is not None and name in form.fields:
                    label = str(form.fields[name].label)
                elif "__" in name:
                    label = str(get_fields_from_path(model, name)[-1].verbose_name)
                else:
                    label = str(label_for_field(name, model, model_admin))
            words = set(re.findall(r"[A-Za-z_]{2,}", label)) - ASCII_TERMS
            if not CJK.search(label) and words:
                missing.add(f"{model._meta.label}: {name} is labelled {label!r}")
            try:
                field = model._meta.get_field(name)
            except FieldDoesNotExist:
                continue  # a column of the admin's own
            for _value, choice in getattr(field, "flatchoices", None) or []:
                if choice != "CNY" and not CJK.search(in_chinese(choice)):
                    missing.add(f"{model._meta.label}.{name}: choice {choice!r}")

    for model, model_admin in _kpay_admins():
        names = list(model_admin.get_list_display(request))
        names += [f for f in model_admin.list_filter if isinstance(f, str)]
        names += [f[0] for f in model_admin.list_filter if isinstance(f, tuple)]
        fieldsets = model_admin.get_fieldsets(request)
        names += flatten_fieldsets(fieldsets)
        for title, _options in fieldsets:
            if title and not CJK.search(in_chinese(title)):
                missing.add(f"{model._meta.label}: fieldset {title!r}")
        editable = model_admin.has_add_permission(request) or model_admin.has_change_permission(request)
        check(model, model_admin, names, form=model_admin.get_form(request)() if editable else None)
        for inline in model_admin.get_inline_instances(request):
            check(inline.model, inline, flatten_fieldsets(inline.get_fieldsets(request)))
            for name in ("verbose_name", "verbose_name_plural"):
                if not CJK.search(in_chinese(getattr(inline, name))):
                    missing.add(f"{inline.model._meta.label}: inline {name}")
        for action in model_admin.get_actions(request).values():
            if not CJK.search(in_chinese(action[2])):
                missing.add(f"{model._meta.label}: action {action[2]!r}")
    assert not missing, "\n".join(sorted(missing))


# -- every page, rendered ---------------------------------------------------------------------
class _Chrome(HTMLParser):
    """Collects the page's own words (headers, labels, headings, actions, help) and the
    text of its data cells, separately."""

    CHROME = {"th", "label", "h1", "h2", "h3", "option", "a", "div"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str]] = []
        self.chrome: list[tuple[str, str]] = []
        self.cells: list[str] = []
        self._text: list[list[str]] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("br", "img", "input", "meta", "link", "hr", "col", "path", "use"):
            return
        attrs = dict(attrs)
        self.stack.append((tag, " ".join(filter(None, [attrs.get("class", ""), attrs.get("id", "")]))))
        self._text.append([])

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1][0] != tag:
            return
        tag, cls = self.stack.pop()
        text = " ".join("".join(self._text.pop()).split())
        if self._text:
            self._text[-1].append(" " + text + " ")
        where = [t for t, _c in self.stack]
        classes = " ".join(c for _t, c in self.stack)
        if tag in ("td", "p") or (tag == "div" and "readonly" in cls):
            self.cells.append(text)
        if not text:
            return
        if tag == "th" and "thead" in where:
            self.chrome.append(("column header", text))
        elif tag == "label":
            self.chrome.append(("label", text))
        elif tag in ("h1", "h2") and "kpay-queues" not in classes:
            self.chrome.append((tag, text))
        elif tag == "h3" and "changelist-filter" in classes:
            self.chrome.append(("filter", text))
        elif tag == "option" and "actions" in classes:
            self.chrome.append(("action", text))
        elif tag == "a" and "object-tools" in classes:
            self.chrome.append(("tool", text))
        elif tag == "div" and "help" in cls.split():
            self.chrome.append(("help", text))

    def handle_data(self, data):
        if self._text:
            self._text[-1].append(data)


def _raw_codes() -> set[str]:
    """Codes of every kpay choice whose label differs from it, and the state machines' steps."""
    codes = set(TRANSITION_LABELS)
    for config in kpay_apps():
        for model in config.get_models():
            for field in model._meta.get_fields():
                for value, label in getattr(field, "flatchoices", None) or []:
                    if isinstance(value, str) and value != str(label):
                        codes.add(value)
    return codes


# Django's own help for a multiple choice box, as its Chinese catalogue says it.
DJANGO_TERMS = {"Command", "Control", "Mac"}


def _english_words(text: str, data: set[str]) -> set[str]:
    words = set(re.findall(r"[A-Za-z][A-Za-z_]+", text)) - ASCII_TERMS - DJANGO_TERMS
    words = {word for word in words if not re.fullmatch(r"KPAY_[A-Z_]+", word)}  # settings' names
    return {word for word in words if not any(word in value for value in data)}


@pytest.fixture
def a_busy_platform(admin_user, pay):
    """The demo's fortnight, plus what it lacks: a refund, an order held for review, a
    reconciliation run with a difference, a coupon, background jobs."""
    call_command("seed_demo", stdout=io.StringIO())
    rule_save(
        rule=Rule(name="Held for review", kind="amount_above", params={"amount": 1}, action="review"),
        actor=admin_user,
    )
    held, _payment = pay(UserFactory(), Course.objects.get(slug="python-basics"))
    completed = Order.objects.filter(status=Order.Status.COMPLETED).first()
    refund_issue(actor=admin_user, order_id=completed.pk, reason="Asked by the learner", amount=100)
    wechat, day = get_gateway("wechatpay"), yesterday()
    stranger = timezone.make_aware(
        timezone.datetime.combine(day, timezone.datetime.min.time().replace(hour=12))
    )
    WxTrade.objects.create(  # a trade kpay never made: a difference
        mchid=wechat.mchid,
        appid=wechat.appid,
        out_trade_no="PUNKNOWN1",
        trade_type="NATIVE",
        request_body={},
        description="?",
        notify_url="http://127.0.0.1/",
        amount=100,
        currency="CNY",
        time_expire=stranger,
        token="unknown-token",
        prepay_id="unknown-prepay",
        state="SUCCESS",
        transaction_id="4200000000000000000001",
        payer_openid="o-unknown",
        success_time=stranger,
    )
    run = reconciliation_upload(
        actor=admin_user,
        gateway_alias="wechatpay",
        bill_date=day,
        file=io.BytesIO(trade_bill(wechat.mchid, day)),
        file_name="bill.csv",
    )
    assert run.differences_found >= 1
    CouponFactory()
    job_create(
        kind="test", title="A job", actor=admin_user, params={}, task="core.tasks.sweep_idempotency_records"
    )
    return held


def test_every_admin_page_is_in_chinese(client, admin_user, a_busy_platform):
    client.force_login(admin_user)
    request = RequestFactory().get("/")
    request.user = admin_user
    codes = _raw_codes()
    # Data staff typed or the demo made (names, titles, notes) may be in any language.
    data = set(get_user_model().objects.values_list("username", flat=True))
    problems, pages = {}, 0
    for model, model_admin in _kpay_admins():
        urls = [admin_url_for(model, "changelist")]
        first = model_admin.get_queryset(request).order_by("-pk").first()
        if first is not None and model_admin.has_view_permission(request, first):
            urls.append(admin_url_for(model, "change", first.pk))
        if model_admin.has_add_permission(request):
            urls.append(admin_url_for(model, "add"))
        urls = [url for url in urls if url]
        for url in urls:
            response = client.get(url, headers={"accept-language": "zh-hans"})
            if response.status_code == 302:
                response = client.get(response["Location"], headers={"accept-language": "zh-hans"})
            assert response.status_code == 200, url
            pages += 1
            html = response.content.decode()
            parser = _Chrome()
            parser.feed(html)
            values = set(parser.cells) | data | _object_names(model_admin, request)
            for where, text in parser.chrome:
                english = _english_words(text, values)
                if english:
                    problems.setdefault(f"{where} {text!r}: {sorted(english)}", url)
            for cell in parser.cells:
                if cell in codes and cell not in data:
                    problems.setdefault(f"raw code {cell!r}", url)
            for unit in ("(fen)", "（分）", "(分)"):
                if unit in html:
                    problems.setdefault(f"an amount in fen ({unit})", url)
    assert pages > 40
    assert not problems, "\n".join(f"{url}: {problem}" for problem, url in problems.items())


def _object_names(model_admin, request) -> set[str]:
    return {str(obj) for obj in model_admin.get_queryset(request).order_by("-pk")[:50]}


def admin_url_for(model, view, *args) -> str | None:
    """The admin page's address, or None when the admin has no such page (a list-only one)."""
    try:
        return admin_url(model, view, *args)
    except NoReverseMatch:
        return None


# -- dates: one format per language ----------------------------------------------------------
def test_dates_show_and_read_back_in_one_format_per_language():
    from django import forms
    from django.utils import formats

    from reconciliation.admin import BillForm

    day = timezone.localdate() - timedelta(days=2)

    class DayForm(forms.Form):
        day = forms.DateField()
        at = forms.DateTimeField()

    moment = timezone.localtime().replace(second=0, microsecond=0)
    for language, shown in (("zh-hans", f"{day:%Y-%m-%d}"), ("en", f"{day:%Y-%m-%d}")):
        with translation.override(language):
            assert formats.date_format(day) == shown
            assert formats.date_format(moment, "DATETIME_FORMAT") == f"{moment:%Y-%m-%d %H:%M}"
            bill = BillForm(initial={"gateway": "wechatpay", "bill_date": day})
            assert f'value="{day:%Y-%m-%d}"' in str(bill["bill_date"])  # what <input type=date> takes
            form = DayForm(initial={"day": day, "at": moment})
            typed = {"day": form["day"].value(), "at": form["at"].value()}
            rendered = {name: form.fields[name].widget.format_value(value) for name, value in typed.items()}
            assert rendered["day"] == f"{day:%Y-%m-%d}"
            again = DayForm(rendered)
            assert again.is_valid(), again.errors
            assert again.cleaned_data["day"] == day and again.cleaned_data["at"] == moment
    with translation.override("zh-hans"):  # Chinese keyboards and habits are read too
        assert DayForm({"day": f"{day:%Y/%m/%d}", "at": f"{moment:%Y-%m-%d %H:%M}"}).is_valid()
        assert DayForm(
            {"day": f"{day.year}年{day.month:02d}月{day.day:02d}日", "at": f"{moment:%Y-%m-%d %H:%M}"}
        ).is_valid()


def test_the_reconcile_page_keeps_its_date_in_chinese(client, staff):
    from courses import roles

    client.force_login(staff(roles.FINANCE))
    page = client.get(
        "/admin/reconciliation/reconciliationrun/reconcile/", headers={"accept-language": "zh-hans"}
    )
    assert f'value="{yesterday():%Y-%m-%d}"' in page.content.decode()


# -- the API in the request's language --------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "invalid", "not_on_sale"),
    [
        ("en", "The request is not valid; see details.", "This course is not on sale."),
        ("zh-hans", "请求无效，详见 details。", None),
        ("zh-CN", "请求无效，详见 details。", None),
    ],
)
def test_api_errors_follow_the_request_language(api_client, learner, language, invalid, not_on_sale):
    api_client.force_authenticate(learner)
    headers = {"HTTP_ACCEPT_LANGUAGE": language}
    bad = api_client.post("/api/v1/orders/", {}, format="json", **headers)
    assert bad.status_code == 400 and bad.json()["error"] == {
        "code": "invalid",
        "message": invalid,
        "details": bad.json()["error"]["details"],
    }
    missing = api_client.post("/api/v1/orders/", {"course": "no-such-course"}, format="json", **headers)
    message = missing.json()["error"]["message"]
    assert missing.json()["error"]["code"] == "course_not_available"
    if not_on_sale:
        assert message == not_on_sale
    else:
        assert CJK.search(message), message
    assert missing["Content-Language"] == ("zh-hans" if language != "en" else "en")


def test_models_amounts_are_fen_fields_everywhere():
    """Every amount column is a FenField (typed and shown in yuan): no BigIntegerField of
    kpay is money unless it is one. The others count things."""
    counts = {
        ("orders", "order", "points_used"),
        ("promotions", "pointslot", "points"),
        ("promotions", "pointslot", "remaining"),
        ("promotions", "pointsentry", "points"),
        ("reconciliation", "reconciliationrun", "file_size"),
        ("core", "job", "done"),
        ("core", "job", "total"),
        ("payments", "journalsummary", "through_entry"),
        ("orders", "order", "promoter_id"),  # an id (promoters.Promoter), not money
    }
    from core.money import FenField

    others = []
    for config in kpay_apps():
        if config.label in BEING_BUILT:
            continue
        for model in config.get_models():
            for field in model._meta.concrete_fields:
                key = (model._meta.app_label, model._meta.model_name, field.name)
                money = isinstance(field, models.BigIntegerField) and not isinstance(field, FenField)
                money = money and not field.primary_key
                if money and key not in counts and not model._meta.proxy:
                    others.append(".".join(key))
    assert not others, f"money or a count? make it a FenField or list it here: {others}"
