"""What operations watch in reconciliation: open differences for ``/metrics`` and the
alert about runs that failed or found differences (README "Operating kpay")."""

from datetime import timedelta

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from core.alerts import AlertItem, alert_send
from core.metrics import gauge
from courses.roles import FINANCE

from .models import Difference, ReconciliationRun

# Runs finished before this are history, not news (the first deployment of alerts).
RUN_LOOKBACK = timedelta(days=3)


def metrics():
    """Collector: open differences by gateway and kind (one indexed query)."""
    rows = (
        Difference.objects.filter(status=Difference.Status.OPEN)
        .values_list("gateway", "kind")
        .annotate(n=Count("pk"))
        .order_by()
    )
    family = gauge(
        "kpay_reconciliation_differences_open",
        "Reconciliation differences still open, by gateway and kind.",
        {(gateway, kind): n for gateway, kind, n in rows},
        ["gateway", "kind"],
    )
    if not family.samples:
        family.add_metric(["", ""], 0.0)  # the series exists (at 0) before the first difference
    return [family]


def reconciliation_alert() -> int:
    """E-mail finance and the admins about each finished run that failed or left open
    differences (each run once)."""
    since = timezone.now() - RUN_LOOKBACK
    runs = (
        ReconciliationRun.objects.filter(finished_at__gte=since)
        .exclude(status=ReconciliationRun.Status.RUNNING)
        .annotate(open_differences=Count("differences", filter=Q(differences__status=Difference.Status.OPEN)))
        .filter(Q(status=ReconciliationRun.Status.FAILED) | Q(open_differences__gt=0))
        .order_by("pk")
    )
    differences = reverse("admin:reconciliation_difference_changelist")
    items = []
    for run in runs[:100]:
        if run.status == ReconciliationRun.Status.FAILED:
            text = _("%(gateway)s bill of %(day)s: the run failed (%(error)s)") % {
                "gateway": run.gateway,
                "day": run.bill_date.isoformat(),
                "error": (run.error or "").splitlines()[0][:200] if run.error else "-",
            }
            path = reverse("admin:reconciliation_reconciliationrun_change", args=[run.pk])
        else:
            text = _("%(gateway)s bill of %(day)s: %(count)d open difference(s)") % {
                "gateway": run.gateway,
                "day": run.bill_date.isoformat(),
                "count": run.open_differences,
            }
            path = differences + "?" + urlencode({"run": run.pk, "status": "open"})
        items.append(AlertItem(key=str(run.pk), text=text, admin_path=path))
    return alert_send(
        kind="reconciliation",
        subject=_("reconciliation needs attention"),
        intro=_("Reconciliation against the gateways' bills found these:"),
        items=items,
        runbook=_(
            "work the differences queue: each difference names the trade; repair it, or resolve it "
            "with a note. A failed run: fetch or upload the bill again from the run's page."
        ),
        groups=[FINANCE],
    )
