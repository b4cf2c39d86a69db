"""Alert e-mails to the operators: finance, the admins and any other address configured.

An app's alert service finds what is wrong (a ledger breach, a reconciliation run with
differences, a failed payout, a stuck refund) and calls :func:`alert_send` with one
:class:`AlertItem` per thing, each naming the admin page to look at. Each (kind, key) is
told once: :class:`~core.models.AlertSent` remembers it, so the beat tasks may run as
often as they like. The e-mail goes to ``settings.ADMINS``, ``KPAY_ALERT_EMAILS`` and the
active users of the given groups (the finance role) who have an address. If it cannot
be sent, nothing is recorded and the next run tries again.
"""

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .metrics import ALERTS_SENT
from .models import AlertSent

logger = logging.getLogger("kpay.alerts")


@dataclass(frozen=True)
class AlertItem:
    key: str  # unique within the alert's kind: told once
    text: str  # one line: what is wrong
    admin_path: str = ""  # the admin page to look at (a path: reverse("admin:…"))


def admin_url(path: str) -> str:
    """``path`` on the address staff open the admin at (``KPAY_ALERT_BASE_URL``)."""
    base = getattr(settings, "KPAY_ALERT_BASE_URL", "") or settings.KPAY_PUBLIC_URL
    return f"{base.rstrip('/')}{path}" if path else ""


def alert_recipients(groups: Iterable[str] = ()) -> list[str]:
    addresses = [email for _name, email in getattr(settings, "ADMINS", ())]
    addresses += list(getattr(settings, "KPAY_ALERT_EMAILS", ()))
    groups = list(groups)
    if groups:
        users = get_user_model().objects.filter(is_active=True, groups__name__in=groups).exclude(email="")
        addresses += list(users.values_list("email", flat=True).distinct())
    seen, unique = set(), []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return unique


def alert_send(
    *,
    kind: str,
    subject: str,
    intro: str,
    items: Sequence[AlertItem],
    runbook: str = "",
    groups: Iterable[str] = (),
) -> int:
    """E-mail the items of ``kind`` not told before; returns how many were told."""
    if not items:
        return 0
    keys = [item.key for item in items]
    told = set(AlertSent.objects.filter(kind=kind, key__in=keys).values_list("key", flat=True))
    new = [item for item in items if item.key not in told]
    if not new:
        return 0
    recipients = alert_recipients(groups)
    if not recipients:
        logger.error(
            "alert %s: %d item(s) and nobody to tell: set ADMINS or KPAY_ALERT_EMAILS", kind, len(new)
        )
        return 0
    lines = [intro, ""]
    for item in new:
        lines.append(f"* {item.text}")
        if item.admin_path:
            lines.append(f"  {admin_url(item.admin_path)}")
    if runbook:
        lines += ["", _("What to do: %(runbook)s") % {"runbook": runbook}]
    now = timezone.now()
    with transaction.atomic():
        AlertSent.objects.bulk_create(
            [AlertSent(kind=kind, key=item.key, sent_at=now) for item in new], ignore_conflicts=True
        )
        send_mail(
            f"[kpay] {subject}",
            "\n".join(lines),
            settings.DEFAULT_FROM_EMAIL,
            recipients,
            fail_silently=False,
        )
    ALERTS_SENT.labels(kind=kind).inc()
    logger.warning("alert %s sent to %d recipient(s): %d item(s)", kind, len(recipients), len(new))
    return len(new)
