from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.risk import Decision
from orders.models import Order

from .rules import validate_rule

__all__ = ["Decision", "HeldOrder", "ReviewDecision", "Rule", "RuleChange"]


class Rule(models.Model):
    """A risk rule: a kind (see ``riskcontrol.rules``), its parameters, and what to do on a hit.

    Block beats review beats allow; a hit of an ``allow`` rule (an allowlist) wins over
    review but never over block. A monitor-only rule records what it would have done.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=40)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    action = models.CharField(_("action"), max_length=8, choices=Decision.choices)
    priority = models.PositiveIntegerField(_("priority"), default=100, help_text=_("Lower runs first."))
    enabled = models.BooleanField(_("enabled"), default=True)
    monitor_only = models.BooleanField(
        _("monitor only"), default=False, help_text=_("Record what the rule would do, without doing it.")
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["priority", "pk"]
        verbose_name = _("risk rule")
        verbose_name_plural = _("risk rules")

    def __str__(self):
        return self.name

    def clean(self):
        validate_rule(self)

    def snapshot(self) -> dict:
        return {
            "name": self.name,
            "kind": self.kind,
            "params": self.params,
            "action": self.action,
            "priority": self.priority,
            "enabled": self.enabled,
            "monitor_only": self.monitor_only,
        }


class RuleChange(models.Model):
    """The audit trail of rules: who changed what, from what, to what."""

    class Change(models.TextChoices):
        CREATED = "created", _("Created")
        UPDATED = "updated", _("Updated")
        DELETED = "deleted", _("Deleted")

    rule = models.ForeignKey(
        Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes", verbose_name=_("rule")
    )
    rule_name = models.CharField(_("rule name"), max_length=100)
    change = models.CharField(_("change"), max_length=8, choices=Change.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    before = models.JSONField(_("before"), null=True, blank=True)
    after = models.JSONField(_("after"), null=True, blank=True)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = _("rule change")
        verbose_name_plural = _("rule changes")

    def __str__(self):
        return f"{self.rule_name} {self.change}"


class ReviewDecision(models.Model):
    """A person's decision on an order whose delivery risk control held."""

    class Verdict(models.TextChoices):
        APPROVE = "approve", _("Approve: deliver")
        REJECT = "reject", _("Reject: refund")

    order = models.OneToOneField(
        "orders.Order", on_delete=models.PROTECT, related_name="risk_review", verbose_name=_("order")
    )
    verdict = models.CharField(_("decision"), max_length=8, choices=Verdict.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("by")
    )
    note = models.CharField(_("note"), max_length=255)
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("review decision")
        verbose_name_plural = _("review decisions")

    def __str__(self):
        return f"{self.order_id}: {self.verdict}"


class HeldOrder(Order):
    """Orders that are paid but whose delivery waits for a risk review (the queue)."""

    class Meta:
        proxy = True
        verbose_name = _("order held for review")
        verbose_name_plural = _("review queue")
