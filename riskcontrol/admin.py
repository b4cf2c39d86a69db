"""Risk rules in the back office: edited with validated parameters, every change
audited, and tried on past orders before they are enforced."""

import json

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html_join
from django.utils.translation import gettext_lazy as _

from core.admin import ReadOnlyInline, pretty_json
from courses import permissions

from . import selectors
from .backtest import backtest
from .models import HeldOrder, ReviewDecision, Rule, RuleChange
from .rules import KINDS
from .services import review_decide, rule_delete, rule_save


class RuleForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=[(name, kind.label) for name, kind in KINDS.items()])

    class Meta:
        model = Rule
        fields = ["name", "kind", "params", "action", "priority", "enabled", "monitor_only"]
        help_texts = {"params": _("A JSON object; each kind's parameters are listed below.")}


class RuleChangeInline(ReadOnlyInline):
    model = RuleChange
    fields = ["created_at", "change", "actor", "before_json", "after_json"]

    @admin.display(description=_("before"))
    def before_json(self, change):
        return pretty_json(change.before)

    @admin.display(description=_("after"))
    def after_json(self, change):
        return pretty_json(change.after)


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    form = RuleForm
    list_display = ["name", "kind", "action", "priority", "enabled", "monitor_only", "updated_at"]
    list_filter = ["action", "enabled", "monitor_only", "kind"]
    search_fields = ["name"]
    inlines = [RuleChangeInline]
    actions = ["backtest_30_days"]
    readonly_fields = ["kinds_help"]

    @admin.display(description=_("kinds and their parameters"))
    def kinds_help(self, obj=None):
        return format_html_join(
            "",
            "<p><b>{}</b>: {}<br><code>{}</code></p>",
            (
                (
                    name,
                    kind.label,
                    json.dumps(
                        {
                            f: str(field.help_text or field.__class__.__name__)
                            for f, field in kind.Params.base_fields.items()
                        }
                    ),
                )
                for name, kind in KINDS.items()
            ),
        )

    def has_module_permission(self, request):
        return permissions.may_see_risk(request.user) and super().has_module_permission(request)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if permissions.may_see_risk(request.user) else queryset.none()

    def save_model(self, request, obj, form, change):
        rule_save(rule=obj, actor=request.user)

    def delete_model(self, request, obj):
        rule_delete(rule=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            rule_delete(rule=rule, actor=request.user)

    @admin.action(description=_("Back-test on the last 30 days of orders"))
    def backtest_30_days(self, request, queryset):
        for rule in queryset:
            result = backtest(kind=rule.kind, params=rule.params, days=30)
            shown = ", ".join(result.hit_order_nos[:10])
            self.message_user(
                request,
                _("%(rule)s would hit %(hits)s of %(checked)s orders in the last 30 days. %(shown)s")
                % {"rule": rule.name, "hits": result.hits, "checked": result.checked, "shown": shown},
                messages.INFO,
            )


@admin.register(RuleChange)
class RuleChangeAdmin(admin.ModelAdmin):
    list_display = ["created_at", "rule_name", "change", "actor"]
    list_filter = ["change"]
    search_fields = ["rule_name"]

    def has_module_permission(self, request):
        return permissions.may_see_risk(request.user) and super().has_module_permission(request)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class ReviewForm(forms.ModelForm):
    verdict = forms.ChoiceField(label=_("decision"), choices=ReviewDecision.Verdict.choices)
    note = forms.CharField(label=_("note"), max_length=255, help_text=_("Kept with the decision."))

    class Meta:
        model = HeldOrder
        fields = []

    def clean(self):
        order = self.instance
        if not selectors.order_awaits_review(order):
            raise forms.ValidationError(_("This order is not waiting for a review any more."))
        return super().clean()


@admin.register(HeldOrder)
class ReviewQueueAdmin(admin.ModelAdmin):
    """Orders paid but held by risk control. Opening one is deciding on it."""

    form = ReviewForm
    list_display = ["order_no", "learner", "total", "paid_at", "checkout_decision", "payment_decision"]
    list_select_related = ["learner"]
    search_fields = ["order_no", "learner__username"]
    readonly_fields = ["order_no", "learner", "total", "paid_at", "assessments", "learner_history"]
    fieldsets = [
        (None, {"fields": ["order_no", "learner", "total", "paid_at"]}),
        (_("Why it is held"), {"fields": ["assessments"]}),
        (_("The learner's history"), {"fields": ["learner_history"]}),
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

    @admin.display(description=_("at checkout"))
    def checkout_decision(self, order):
        return order.risk_assessment.get("decision", "")

    @admin.display(description=_("when paid"))
    def payment_decision(self, order):
        payment = self._payment(order)
        return payment.risk_assessment.get("decision", "") if payment else ""

    @admin.display(description=_("assessments"))
    def assessments(self, order):
        payment = self._payment(order)
        return pretty_json(
            {"checkout": order.risk_assessment, "payment": payment.risk_assessment if payment else None}
        )

    @admin.display(description=_("orders, payments and refunds"))
    def learner_history(self, order):
        return format_html_join(
            "",
            "<div>{} <b>{}</b> {} · {} fen · {:%Y-%m-%d %H:%M}</div>",
            selectors.learner_history(learner_id=order.learner_id),
        )

    def save_model(self, request, obj, form, change):
        review_decide(
            order_id=obj.pk,
            actor=request.user,
            verdict=form.cleaned_data["verdict"],
            note=form.cleaned_data["note"],
        )

    def save_related(self, request, form, formsets, change):
        pass
