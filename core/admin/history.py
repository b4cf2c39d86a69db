"""A model's status history (:class:`core.transitions.StatusChange` rows) under it, in
words: statuses by their labels, the step by its name, "system" for no actor."""

from django.contrib import admin
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from .readonly import ReadOnlyInline

# The steps of kpay's state machines (transition names), as staff read them.
TRANSITION_LABELS = {
    "approve": pgettext_lazy("status step", "approved"),
    "approve_first": pgettext_lazy("status step", "first approval"),
    "cancel": pgettext_lazy("status step", "cancelled"),
    "close": pgettext_lazy("status step", "closed"),
    "complete": pgettext_lazy("status step", "completed"),
    "consume": pgettext_lazy("status step", "used"),
    "deny": pgettext_lazy("status step", "denied"),
    "expire": pgettext_lazy("status step", "expired"),
    "fail": pgettext_lazy("status step", "failed"),
    "flag": pgettext_lazy("status step", "flagged for staff"),
    "fulfil": pgettext_lazy("status step", "delivered"),
    "give_back": pgettext_lazy("status step", "given back"),
    "issue": pgettext_lazy("status step", "issued by staff"),
    "mark_paid": pgettext_lazy("status step", "marked paid"),
    "mark_unapplied": pgettext_lazy("status step", "received, to return"),
    "refund_fully": pgettext_lazy("status step", "refunded in full"),
    "refund_partially": pgettext_lazy("status step", "refunded in part"),
    "reject": pgettext_lazy("status step", "rejected"),
    "release": pgettext_lazy("status step", "released"),
    "reopen": pgettext_lazy("status step", "re-opened"),
    "repair": pgettext_lazy("status step", "repaired automatically"),
    "request": pgettext_lazy("status step", "requested"),
    "resolve": pgettext_lazy("status step", "resolved"),
    "start": pgettext_lazy("status step", "started"),
    "submit": pgettext_lazy("status step", "sent to the gateway"),
    "succeed": pgettext_lazy("status step", "succeeded"),
}


def status_label(model, code: str) -> str:
    """The label of ``model``'s status ``code`` (the code itself if it has none)."""
    if not code:
        return "-"
    choices = dict(model._meta.get_field("status").flatchoices)
    return str(choices.get(code, code))


class StatusHistoryInline(ReadOnlyInline):
    """History rows under their object (``model`` is its StatusChange subclass)."""

    fields = ("changed_at", "status_change", "step", "by", "why")
    verbose_name = _("status change")
    verbose_name_plural = _("status history")
    classes = ["kpay-status-history"]
    transition_labels: dict = {}  # extra or different step names for one model

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")

    @admin.display(description=_("time"))
    def changed_at(self, change):
        return formats.date_format(timezone.localtime(change.created_at), "DATETIME_FORMAT")

    @admin.display(description=_("status"))
    def status_change(self, change):
        after = status_label(self.parent_model, change.to_status)
        if not change.from_status:
            return after
        before = status_label(self.parent_model, change.from_status)
        return after if before == after else f"{before} → {after}"

    @admin.display(description=_("step"))
    def step(self, change):
        labels = {**TRANSITION_LABELS, **self.transition_labels}
        return labels.get(change.transition, change.transition)

    @admin.display(description=_("by"))
    def by(self, change):
        return change.actor if change.actor_id else _("kpay (automatic)")

    @admin.display(description=_("reason"))
    def why(self, change):
        return change.reason or "-"
