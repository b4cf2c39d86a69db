"""What operations watch in payments: the gauges ``/metrics`` reads at scrape time
(``settings.KPAY_METRICS_COLLECTORS``) and the alerts the beat tasks send: the daily
``ledger_check`` and refunds stuck in processing (README "Operating kpay")."""

import logging
import time
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, Min, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from core.alerts import AlertItem, admin_url, alert_send
from core.logging import numbers_in
from core.metrics import gauge
from core.money import format_yuan
from courses.roles import FINANCE

from .ledger import checks as ledger_check
from .models import Payment, Refund

logger = logging.getLogger(__name__)

# The last ledger_check's outcome, for /metrics: {"breaches": n, "at": unix time}.
LEDGER_CHECK_CACHE_KEY = "kpay:monitoring:ledger_check"
# Refund states that still need something to happen (failed waits for a retry or a person).
OPEN_REFUND_STATES = (*Refund.IN_FLIGHT_STATUSES, Refund.Status.FAILED)
BREACH_LINES = 30  # at most this many breaches are listed in the e-mail


def metrics():
    """Collector: open refunds by state, the age of the oldest pending payment and of
    the oldest refund in flight, and the last ledger check. Three indexed queries."""
    now = timezone.now()
    oldest_payment = Payment.objects.filter(status=Payment.Status.PENDING).aggregate(at=Min("created_at"))[
        "at"
    ]
    by_state = dict.fromkeys((str(state) for state in OPEN_REFUND_STATES), 0)
    rows = Refund.objects.filter(status__in=OPEN_REFUND_STATES).values_list("status").annotate(n=Count("pk"))
    by_state.update({status: n for status, n in rows.order_by()})
    oldest_refund = Refund.objects.filter(status__in=Refund.IN_FLIGHT_STATUSES).aggregate(
        at=Min("created_at")
    )["at"]
    families = [
        gauge("kpay_refunds_open", "Refunds not yet at an end, by state.", by_state, ["state"]),
        gauge(
            "kpay_oldest_pending_payment_age_seconds",
            "Age of the oldest payment still pending (0: none).",
            _age(oldest_payment, now),
        ),
        gauge(
            "kpay_oldest_open_refund_age_seconds",
            "Age of the oldest refund requested, approved or processing (0: none).",
            _age(oldest_refund, now),
        ),
    ]
    last = cache.get(LEDGER_CHECK_CACHE_KEY)
    if isinstance(last, dict):
        families += [
            gauge("kpay_ledger_check_breaches", "Breaches found by the last ledger_check.", last["breaches"]),
            gauge(
                "kpay_ledger_check_last_run_timestamp_seconds",
                "When the last ledger_check finished (Unix time).",
                last["at"],
            ),
        ]
    return families


def _age(since: datetime | None, now: datetime) -> float:
    return max(0.0, (now - since).total_seconds()) if since else 0.0


def ledger_check_alert() -> int:
    """Run every ledger invariant (``manage.py ledger_check``), keep the count for
    ``/metrics`` and, on any breach, e-mail finance and the admins (once a day)."""
    started = time.monotonic()
    breaches = ledger_check.run()
    cache.set(LEDGER_CHECK_CACHE_KEY, {"breaches": len(breaches), "at": time.time()}, None)
    if not breaches:
        logger.info("ledger_check: no breach (%.1f s)", time.monotonic() - started)
        return 0
    logger.error("ledger_check: %d breach(es)", len(breaches))
    details = []
    for breach in breaches[:BREACH_LINES]:
        details.append(f"- {breach}")
        for field, number in numbers_in(breach).items():
            model = {"payment_no": "payment", "refund_no": "refund", "order_no": "order"}.get(field)
            if model:
                app = "orders" if model == "order" else "payments"
                path = reverse(f"admin:{app}_{model}_changelist") + "?" + urlencode({"q": number})
                details.append(f"  {number}: {admin_url(path)}")
    if len(breaches) > BREACH_LINES:
        details.append(
            _("… and %(count)d more: run manage.py ledger_check") % {"count": len(breaches) - BREACH_LINES}
        )
    today = timezone.localdate().isoformat()
    item = AlertItem(
        key=today,
        text=_("%(count)d breach(es) of the ledger's invariants on %(day)s:")
        % {"count": len(breaches), "day": today}
        + "\n"
        + "\n".join(details),
        admin_path=reverse("admin:payments_journalentry_changelist"),
    )
    alert_send(
        kind="ledger_check",
        subject=_("ledger_check found %(count)d breach(es)") % {"count": len(breaches)},
        intro=_("The daily ledger check found the books inconsistent. Look at the journal:"),
        items=[item],
        runbook=_(
            "stop payouts, run manage.py ledger_check, find the entries of the numbers named "
            "in the journal and their history, and correct them with a posting."
        ),
        groups=[FINANCE],
    )
    return len(breaches)


def refunds_stuck_alert() -> int:
    """E-mail finance and the admins about refunds processing for longer than
    ``KPAY_REFUND_STUCK_AFTER`` (each refund once); returns how many were new."""
    cutoff = timezone.now() - settings.KPAY_REFUND_STUCK_AFTER
    stuck = (
        Refund.objects.filter(status=Refund.Status.PROCESSING)
        .filter(Q(submitted_at__lte=cutoff) | Q(submitted_at__isnull=True, created_at__lte=cutoff))
        .select_related("order")
        .order_by("pk")
    )
    items = [
        AlertItem(
            key=str(refund.pk),
            text=_("refund %(refund)s of order %(order)s: %(amount)s, processing since %(since)s")
            % {
                "refund": refund.refund_no,
                "order": refund.order.order_no,
                "amount": format_yuan(refund.amount, symbol=True),
                "since": timezone.localtime(refund.submitted_at or refund.created_at).strftime(
                    "%Y-%m-%d %H:%M"
                ),
            },
            admin_path=reverse("admin:payments_refund_change", args=[refund.pk]),
        )
        for refund in stuck[:200]
    ]
    return alert_send(
        kind="refund_stuck",
        subject=_("refunds stuck in processing"),
        intro=_("These refunds were sent to the gateway more than a day ago and have no outcome yet:"),
        items=items,
        runbook=_(
            "open each refund in the admin, check its gateway exchanges; query the gateway (the "
            "refund sync runs every 5 minutes) or ask the gateway's support with the refund number."
        ),
        groups=[FINANCE],
    )
