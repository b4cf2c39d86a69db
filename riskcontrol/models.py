from django.db import models
from django.utils.translation import gettext_lazy as _

from orders.models import Order


class Decision(models.TextChoices):
    ALLOW = "allow", _("Allow")
    REVIEW = "review", _("Review")
    BLOCK = "block", _("Block")


class Assessment(models.Model):
    """One risk assessment: what was looked at, what each rule said, what was decided."""

    class Stage(models.TextChoices):
        CHECKOUT = "checkout", _("Checkout")
        PAYMENT = "payment", _("Payment notification")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="risk_assessments")
    stage = models.CharField(max_length=12, choices=Stage.choices)
    decision = models.CharField(max_length=8, choices=Decision.choices)
    inputs = models.JSONField(default=dict)
    verdicts = models.JSONField(default=list)
    duration_us = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self):
        return f"{self.order_id} {self.stage}: {self.decision}"
