from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from orders.models import Order

from .rules import validate_rule


class Decision(models.TextChoices):
    ALLOW = "allow", _("Allow")
    REVIEW = "review", _("Review")
    BLOCK = "block", _("Block")


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
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "pk"]

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

    rule = models.ForeignKey(Rule, on_delete=models.SET_NULL, null=True, blank=True, related_name="changes")
    rule_name = models.CharField(max_length=100)
    change = models.CharField(max_length=8, choices=Change.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.rule_name} {self.change}"


class ReviewDecision(models.Model):
    """A person's decision on an order whose delivery risk control held."""

    class Verdict(models.TextChoices):
        APPROVE = "approve", _("Approve: deliver")
        REJECT = "reject", _("Reject: refund")

    order = models.OneToOneField("orders.Order", on_delete=models.PROTECT, related_name="risk_review")
    verdict = models.CharField(max_length=8, choices=Verdict.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.order_id}: {self.verdict}"


class HeldOrder(Order):
    """Orders that are paid but whose delivery waits for a risk review (the queue)."""

    class Meta:
        proxy = True
        verbose_name = _("order held for review")
        verbose_name_plural = _("review queue")
