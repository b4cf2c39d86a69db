"""What operations watch in settlement: the payout queue for ``/metrics`` and the alert
about payouts whose bank transfer failed (README "Operating kpay")."""

from datetime import timedelta

from django.db.models import Count, Min, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from core.alerts import AlertItem, alert_send
from core.logging import scrub
from core.metrics import gauge
from core.money import format_yuan
from courses.roles import FINANCE

from .models import Payout

# Failed payouts older than this are history, not news (the first deployment of alerts).
FAILED_LOOKBACK = timedelta(days=7)


def metrics():
    """Collector: payouts waiting for finance (requested, approved), their amount and the
    age of the oldest."""
    waiting = Payout.objects.filter(status__in=Payout.IN_FLIGHT_STATUSES)
    counts = dict.fromkeys((str(state) for state in Payout.IN_FLIGHT_STATUSES), 0)
    amounts = dict(counts)
    for status, count, amount in (
        waiting.values_list("status").annotate(n=Count("pk"), total=Sum("amount")).order_by()
    ):
        counts[status], amounts[status] = count, amount or 0
    oldest = waiting.aggregate(at=Min("requested_at"))["at"]
    age = (timezone.now() - oldest).total_seconds() if oldest else 0.0
    return [
        gauge("kpay_payout_queue", "Payouts waiting for finance, by state.", counts, ["state"]),
        gauge(
            "kpay_payout_queue_fen", "Amount of the payouts waiting, in fen, by state.", amounts, ["state"]
        ),
        gauge(
            "kpay_payout_queue_oldest_age_seconds",
            "Age of the oldest payout waiting (0: none).",
            max(0.0, age),
        ),
    ]


def payouts_failed_alert() -> int:
    """E-mail finance and the admins about each payout whose transfer failed (once)."""
    since = timezone.now() - FAILED_LOOKBACK
    failed = (
        Payout.objects.filter(status=Payout.Status.FAILED, decided_at__gte=since)
        .select_related("merchant")
        .order_by("pk")
    )
    items = [
        AlertItem(
            key=str(payout.pk),
            text=_("payout %(payout)s to %(merchant)s: %(amount)s, transfer failed: %(note)s")
            % {
                "payout": payout.payout_no,
                "merchant": payout.merchant.name,
                "amount": format_yuan(payout.amount, symbol=True),
                "note": scrub(payout.decision_note),
            },
            admin_path=reverse("admin:settlement_payout_change", args=[payout.pk]),
        )
        for payout in failed[:200]
    ]
    return alert_send(
        kind="payout_failed",
        subject=_("payout transfers failed"),
        intro=_(
            "The bank transfer of these payouts failed; the money is back in the merchant's "
            "available balance:"
        ),
        items=items,
        runbook=_(
            "check the bank's reason, correct the merchant's bank account with them, and let the "
            "merchant request the payout again."
        ),
        groups=[FINANCE],
    )
