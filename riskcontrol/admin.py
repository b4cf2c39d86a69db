"""Risk rules in the back office: edited with a form per rule kind (generated from the
kind's declared parameters), every change audited, tried on past orders before they are
enforced (back-tests run as background jobs); and the review queue of held orders, where
a reviewer reads why an order was held, in words, and the learner's history."""

from django import forms
from django.contrib import admin
from django.core.exceptions import NON_FIELD_ERRORS, PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from core.admin import (
    ReadOnlyInline,
    WorkQueue,
    admin_link,
    decision_label,
    job_progress_url,
    register_job_result,
    register_work_queue,
    risk_assessment_html,
    status_label,
    yuan,
)
from core.models import Job
from courses import permissions
from orders.models import Order
from payments.gateways import channel_label
from payments.models import Payment, Refund

from . import selectors, services
from .models import HeldOrder, ReviewDecision, Rule, RuleChange
from .rules import KINDS


def _param_field(kind: str, param: str) -> str:
    return f"{kind}__{param}"


def kind_label(kind: str) -> str:
    return str(KINDS[kind].label) if kind in KINDS else kind


def describe_params(kind: str, params: dict) -> str:
    """A rule's parameters in words ("limit: ¥10,000.00"), or as stored for an unknown kind."""
    if kind not in KINDS:
        return str(params)
    return KINDS[kind].describe(params or {}) or "-"


# -- rules ------------------------------------------------------------------------------------
class RuleForm(forms.ModelForm):
    """The rule and, for each kind, the fields of its parameters (``<kind>__<parameter>``),
    made from the kind's schema: amounts in yuan, lists one value a line. Only the chosen
    kind's fields are read; the page shows only them (static/js/rule-kind.js)."""

    kind = forms.ChoiceField(
        label=_("kind"), choices=lambda: [("", "---------"), *((n, k.label) for n, k in KINDS.items())]
    )

    class Meta:
        model = Rule
        fields = ["name", "kind", "action", "priority", "enabled", "monitor_only"]
        help_texts = {"action": _("What an assessment does when this rule hits.")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        chosen = self.data.get("kind") if self.is_bound else self.instance.kind
        for kind_name, kind in KINDS.items():
            for name, param in kind.params.items():
                field = self.fields[_param_field(kind_name, name)]
                if self.is_bound and kind_name != chosen:
                    field.disabled = True  # another kind's: neither read nor checked
                elif not self.is_bound and kind_name == self.instance.kind:
                    field.initial = param.to_admin((self.instance.params or {}).get(name))

    def clean(self):
        cleaned = super().clean()
        kind = KINDS.get(cleaned.get("kind"))
        if kind is None:
            return cleaned
        stored, missing = {}, False
        for name, param in kind.params.items():
            field = _param_field(kind.name, name)
            if field in self.errors:
                missing = True
                continue
            value = param.from_admin(cleaned.get(field))
            if value in (None, "", []):
                self.add_error(field, forms.Field.default_error_messages["required"])
                missing = True
            else:
                stored[name] = value
        if missing:
            self._params_refused = True
            return cleaned
        try:
            self.instance.params = kind.clean_params(stored)
        except ValidationError as exc:
            if hasattr(exc, "error_dict"):
                for name, errors in exc.error_dict.items():
                    field = _param_field(kind.name, name)
                    self.add_error(field if field in self.fields else None, errors)
            else:
                self.add_error(None, exc)
            self._params_refused = True
        return cleaned

    def _update_errors(self, errors):
        """The model checks ``params`` too (``Rule.clean``), a field this form shows as one
        field per parameter: what it says is already on those fields, or else is said above
        the form (Django would refuse an error of a field the form does not have)."""
        if hasattr(errors, "error_dict") and "params" in errors.error_dict:
            refused = errors.error_dict.pop("params")
            if not getattr(self, "_params_refused", False):
                errors.error_dict.setdefault(NON_FIELD_ERRORS, []).extend(refused)
        super()._update_errors(errors)


def declare_kind_fields() -> None:
    """Give the form a field per parameter of every kind, those registered later too
    (by apps above risk control, from their ``AppConfig.ready``, after this module)."""
    for kind_name, kind in KINDS.items():
        for name, param in kind.params.items():
            if _param_field(kind_name, name) not in RuleForm.base_fields:
                field = param.admin_field()
                RuleForm.base_fields[_param_field(kind_name, name)] = field
                RuleForm.declared_fields[_param_field(kind_name, name)] = field


declare_kind_fields()


class KindFilter(admin.SimpleListFilter):
    title = _("kind")
    parameter_name = "kind"

    def lookups(self, request, model_admin):
        return [(name, kind.label) for name, kind in KINDS.items()]

    def queryset(self, request, queryset):
        return queryset.filter(kind=self.value()) if self.value() else queryset


def _snapshot(snapshot: dict | None) -> str:
    """A rule as it was (an audit row's before or after), in words."""
    if not snapshot:
        return "-"
    facts = [
        (gettext("kind"), kind_label(snapshot.get("kind", ""))),
        (gettext("parameters"), describe_params(snapshot.get("kind", ""), snapshot.get("params") or {})),
        (gettext("on a hit"), decision_label(snapshot.get("action"))),
        (gettext("priority"), snapshot.get("priority", "-")),
        (gettext("enabled"), gettext("yes") if snapshot.get("enabled") else gettext("no")),
        (gettext("monitor only"), gettext("yes") if snapshot.get("monitor_only") else gettext("no")),
    ]
    return format_html(
        '<dl class="kpay-facts">{}</dl>', format_html_join("", "<dt>{}</dt><dd>{}</dd>", facts)
    )


class RuleChangeInline(ReadOnlyInline):
    model = RuleChange
    fields = ["created_at", "change", "actor", "before_shown", "after_shown"]
    verbose_name_plural = _("changes")

    @admin.display(description=_("before"))
    def before_shown(self, change):
        return _snapshot(change.before)

    @admin.display(description=_("after"))
    def after_shown(self, change):
        return _snapshot(change.after)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    change_form_template = "admin/riskcontrol/rule/change_form.html"
    list_display = ["name", "kind_shown", "params_shown", "action", "priority", "enabled", "monitor_only"]
    list_filter = ["action", "enabled", "monitor_only", KindFilter]
    search_fields = ["name"]
    inlines = [RuleChangeInline]
    actions = ["backtest_30_days"]

    class Media:
        js = ["js/rule-kind.js"]

    def get_fieldsets(self, request, obj=None):
        declare_kind_fields()
        return [
            (None, {"fields": ["name", "kind", "action", "priority", ("enabled", "monitor_only")]}),
            *(
                (
                    kind.label,
                    {
                        "fields": [_param_field(name, param) for param in kind.params],
                        "classes": ["kpay-rule-params", f"kpay-kind-{name}"],
                    },
                )
                for name, kind in KINDS.items()
            ),
        ]

    @admin.display(description=_("kind"), ordering="kind")
    def kind_shown(self, rule):
        return kind_label(rule.kind)

    @admin.display(description=_("parameters"))
    def params_shown(self, rule):
        return describe_params(rule.kind, rule.params)

    def has_module_permission(self, request):
        return permissions.may_see_risk(request.user) and super().has_module_permission(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if permissions.may_see_risk(request.user) else queryset.none()

    def save_model(self, request, obj, form, change):
        services.rule_save(rule=obj, actor=request.user)

    def delete_model(self, request, obj):
        services.rule_delete(rule=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            services.rule_delete(rule=rule, actor=request.user)

    # -- back-tests (background jobs) --
    @admin.action(description=_("Back-test on the last 30 days of orders"))
    def backtest_30_days(self, request, queryset):
        job = services.backtest_job_start(
            actor=request.user, rule_ids=list(queryset.values_list("pk", flat=True))
        )
        return redirect(job_progress_url(job))

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<int:rule_id>/backtest/", wrap(self.backtest_view), name="riskcontrol_rule_backtest"),
            path(
                "backtests/<int:job_id>/", wrap(self.backtest_result_view), name="riskcontrol_backtest_result"
            ),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        if object_id and permissions.may_see_risk(request.user):
            extra_context["backtest_url"] = reverse("admin:riskcontrol_rule_backtest", args=[object_id])
        return super().change_view(request, object_id, form_url, extra_context)

    def backtest_view(self, request, rule_id):
        """POST: back-test this rule (as saved) on the last 30 days."""
        rule = self.get_queryset(request).filter(pk=rule_id).first()
        if rule is None:
            raise Http404
        if request.method != "POST":
            return redirect("admin:riskcontrol_rule_change", rule.pk)
        job = services.backtest_job_start(actor=request.user, rule_ids=[rule.pk])
        return redirect(job_progress_url(job))

    def backtest_result_view(self, request, job_id):
        if not permissions.may_see_risk(request.user):
            raise PermissionDenied
        job = Job.objects.filter(pk=job_id, kind=services.BACKTEST_JOB_KIND).first()
        if job is None or job.state != Job.State.SUCCEEDED:
            raise Http404
        orders_url = reverse("admin:orders_order_changelist")
        results = [
            {
                **row,
                "kind_label": kind_label(row["kind"]),
                "action_label": decision_label(row["action"]),
                "share": f"{row['hits'] * 100 / row['checked']:.1f}%" if row["checked"] else "-",
                "orders": [(no, f"{orders_url}?{urlencode({'q': no})}") for no in row["hit_order_nos"]],
                "more": row["hits"] - len(row["hit_order_nos"]),
            }
            for row in job.result["rules"]
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": job.title,
            "job": job,
            "days": job.result["days"],
            "results": results,
        }
        return TemplateResponse(request, "admin/riskcontrol/rule/backtest_result.html", context)


def _backtest_page(job) -> str | None:
    """Where a back-test is shown once done (a failed one: its error, on its progress page)."""
    if job.state != Job.State.SUCCEEDED:
        return None
    return reverse("admin:riskcontrol_backtest_result", args=[job.pk])


register_job_result(services.BACKTEST_JOB_KIND, _backtest_page)


@admin.register(RuleChange)
class RuleChangeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "rule_name", "change", "actor"]
    list_filter = ["change"]
    search_fields = ["rule_name"]
    fields = ["created_at", "rule_name", "change", "actor", "before_shown", "after_shown"]
    readonly_fields = fields

    @admin.display(description=_("before"))
    def before_shown(self, change):
        return _snapshot(change.before)

    @admin.display(description=_("after"))
    def after_shown(self, change):
        return _snapshot(change.after)

    def has_module_permission(self, request):
        return permissions.may_see_risk(request.user) and super().has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# -- the review queue -------------------------------------------------------------------------
class ReviewForm(forms.ModelForm):
    # No default: a reviewer chooses, every time (a pre-selected "approve" is approved by habit).
    verdict = forms.ChoiceField(
        label=_("decision"), choices=ReviewDecision.Verdict.choices, widget=forms.RadioSelect
    )
    note = forms.CharField(label=_("note"), max_length=255, help_text=_("Kept with the decision."))

    class Meta:
        model = HeldOrder
        fields = []

    def clean(self):
        order = self.instance
        if not selectors.order_awaits_review(order):
            raise forms.ValidationError(_("This order is not waiting for a review any more."))
        return super().clean()


def _table(headers, rows, empty) -> str:
    if not rows:
        return format_html('<p class="help">{}</p>', empty)
    head = format_html_join("", "<th>{}</th>", ((header,) for header in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((cell,) for cell in row)),) for row in rows)
    )
    return format_html(
        '<table class="kpay-history"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body
    )


@admin.register(HeldOrder)
class ReviewQueueAdmin(admin.ModelAdmin):
    """Orders paid but held by risk control. Opening one is deciding on it."""

    form = ReviewForm
    list_display = ["order_no", "learner", "total_shown", "paid_at", "checkout_decision", "payment_decision"]
    list_select_related = ["learner"]
    search_fields = ["order_no", "learner__username"]
    readonly_fields = [
        "order_link",
        "learner",
        "total_shown",
        "paid_at",
        "payment_shown",
        "assessments",
        "learner_totals",
        "learner_orders",
        "learner_payments",
        "learner_refunds",
        "learner_clients",
    ]
    fieldsets = [
        (None, {"fields": [("order_link", "learner"), ("total_shown", "paid_at"), "payment_shown"]}),
        (_("Why it is held"), {"fields": ["assessments"]}),
        (
            _("The learner's history"),
            {
                "fields": [
                    "learner_totals",
                    "learner_orders",
                    "learner_payments",
                    "learner_refunds",
                    "learner_clients",
                ]
            },
        ),
        (_("Decision"), {"fields": ["verdict", "note"]}),
    ]

    def get_queryset(self, request):
        held = selectors.review_queue(super().get_queryset(request))
        return held if permissions.may_see_risk(request.user) else held.none()

    @staticmethod
    def _payment(order):
        return next(iter(order.succeeded_payments), None)

    def has_module_permission(self, request):
        return permissions.may_review_risk(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_change_permission(self, request, obj=None):
        return self.has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    # -- the order --
    @admin.display(description=_("order"))
    def order_link(self, order):
        return admin_link(Order(pk=order.pk, order_no=order.order_no))

    @admin.display(description=_("total"), ordering="total")
    def total_shown(self, order):
        return yuan(order.total)

    @admin.display(description=_("at checkout"))
    def checkout_decision(self, order):
        return decision_label(order.risk_assessment.get("decision"))

    @admin.display(description=_("when paid"))
    def payment_decision(self, order):
        payment = self._payment(order)
        return decision_label(payment.risk_assessment.get("decision")) if payment else "-"

    @admin.display(description=_("payment"))
    def payment_shown(self, order):
        payment = self._payment(order)
        if payment is None:
            return "-"
        return format_html(
            "{} · {} · {}", admin_link(payment), channel_label(payment.channel), payment.payer_id or "-"
        )

    @admin.display(description=_("assessments"))
    def assessments(self, order):
        payment = self._payment(order)
        return format_html(
            "{}{}",
            risk_assessment_html(order.risk_assessment),
            risk_assessment_html(payment.risk_assessment) if payment else "",
        )

    # -- the learner --
    @staticmethod
    def _history(order) -> dict:
        """The learner's history, read once for the page's several fields."""
        if not hasattr(order, "_kpay_learner_history"):
            order._kpay_learner_history = selectors.learner_history(learner_id=order.learner_id)
        return order._kpay_learner_history

    @admin.display(description=_("in all"))
    def learner_totals(self, order):
        totals = self._history(order)["totals"]
        joined = order.learner.date_joined
        return format_html(
            "{} · {} · {} · {}",
            gettext("account opened %(date)s") % {"date": _date(joined)},
            ngettext("%(count)s order placed", "%(count)s orders placed", totals["placed"])
            % {"count": totals["placed"]},
            gettext("%(count)s paid, %(amount)s")
            % {"count": totals["paid"], "amount": yuan(totals["paid_amount"])},
            gettext("refunded %(amount)s") % {"amount": yuan(totals["refunded_amount"])},
        )

    @admin.display(description=_("orders"))
    def learner_orders(self, order):
        rows = [
            (
                admin_link(row, row.order_no)
                if row.pk != order.pk
                else format_html("<b>{}</b>", row.order_no),
                row.get_status_display(),
                yuan(row.total),
                _date(row.created_at),
                row.client_ip or "-",
            )
            for row in self._history(order)["orders"]
        ]
        headers = [_("order"), _("status"), _("total"), _("placed at"), _("IP address")]
        return _table(headers, rows, _("No orders."))

    @admin.display(description=_("payments"))
    def learner_payments(self, order):
        rows = [
            (
                admin_link(row, row.payment_no),
                channel_label(row.channel),
                status_label(Payment, row.status),
                yuan(row.amount),
                row.payer_id or "-",
                _date(row.created_at),
            )
            for row in self._history(order)["payments"]
        ]
        headers = [_("payment"), _("channel"), _("status"), _("amount"), _("payer"), _("time")]
        return _table(headers, rows, _("No payments."))

    @admin.display(description=_("refunds"))
    def learner_refunds(self, order):
        rows = [
            (
                admin_link(row, row.refund_no),
                row.order.order_no,
                status_label(Refund, row.status),
                yuan(row.amount),
                row.get_origin_display(),
                row.reason,
                _date(row.created_at),
            )
            for row in self._history(order)["refunds"]
        ]
        headers = [_("refund"), _("order"), _("status"), _("amount"), _("origin"), _("reason"), _("time")]
        return _table(headers, rows, _("No refunds."))

    @admin.display(description=_("devices and IP addresses"))
    def learner_clients(self, order):
        kinds = {"ip": gettext("IP address"), "device": gettext("device")}
        rows = [
            (
                kinds[row["kind"]],
                row["value"],
                row["orders"],
                _date(row["last"]),
                format_html('<strong class="kpay-negative">{}</strong>', row["other_accounts"])
                if row["other_accounts"]
                else 0,
            )
            for row in selectors.learner_clients(learner_id=order.learner_id)
        ]
        headers = [_("kind"), _("value"), _("orders"), _("last used"), _("other accounts using it")]
        return _table(headers, rows, _("No IP address or device recorded."))

    def save_model(self, request, obj, form, change):
        services.review_decide(
            order_id=obj.pk,
            actor=request.user,
            verdict=form.cleaned_data["verdict"],
            note=form.cleaned_data["note"],
        )

    def save_related(self, request, form, formsets, change):
        pass


def _date(moment) -> str:
    if moment is None:
        return "-"
    return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")


@register_work_queue(order=15)
def orders_held_for_review(request):
    if not permissions.may_review_risk(request.user):
        return None
    held = selectors.review_queue(HeldOrder.objects.all())
    return WorkQueue(
        label=_("Orders held for review"),
        count=held.count(),
        url=reverse("admin:riskcontrol_heldorder_changelist"),
        hint=_("Paid, delivery held: approve to deliver, reject to refund."),
    )
