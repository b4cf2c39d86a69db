"""Reads of automatic renewal shared by the beat task, the site, the API and the admin."""

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db.models import Exists, Max, OuterRef, QuerySet

from payments.gateways import available_withholding_channels, channel_label, get_gateway

from . import schedule
from .models import Agreement, Membership, MembershipPeriod, Renewal


def membership_for_learner(*, learner, membership_id) -> Membership | None:
    """The learner's own membership (someone else's, or a number no row can have: None)."""
    try:
        pk = int(membership_id)
    except (TypeError, ValueError):
        return None
    if not 0 < pk < 2**63:
        return None
    return Membership.objects.select_related("plan", "plan__merchant").filter(learner=learner, pk=pk).first()


def agreement_live(*, membership_id: int) -> Agreement | None:
    """The membership's agreement in force or being signed, if any (the database allows one)."""
    return Agreement.objects.filter(membership_id=membership_id, status__in=Agreement.LIVE_STATUSES).first()


def next_period_sequence(*, membership_id: int) -> int:
    """The number the membership's next paid period will have."""
    last = MembershipPeriod.objects.filter(membership_id=membership_id).aggregate(last=Max("sequence"))[
        "last"
    ]
    return (last or 0) + 1


def memberships_due_for_renewal(*, now: datetime) -> QuerySet[Membership]:
    """Memberships renewing automatically whose next renewal may need planning: an active
    agreement, no renewal open, and the end near (the service checks the exact day)."""
    horizon = timedelta(days=settings.KPAY_RENEWAL_CHARGE_DAYS_BEFORE + settings.KPAY_RENEWAL_NOTICE_DAYS + 8)
    active = Agreement.objects.filter(
        membership=OuterRef("pk"), status=Agreement.Status.ACTIVE, termination_requested_at__isnull=True
    )
    open_renewal = Renewal.objects.filter(membership=OuterRef("pk"), status__in=Renewal.OPEN_STATUSES)
    return (
        Membership.objects.filter(
            auto_renew=True,
            ends_at__lte=now + horizon,
            ends_at__gt=now - settings.KPAY_RENEWAL_GRACE,
        )
        .filter(Exists(active))
        .exclude(Exists(open_renewal))
        .order_by("ends_at", "pk")
    )


def renewals_open() -> QuerySet[Renewal]:
    return Renewal.objects.filter(status__in=Renewal.OPEN_STATUSES).order_by("charge_on", "pk")


def agreements_to_terminate() -> QuerySet[Agreement]:
    """Agreements kpay asked to end whose termination the gateway has not confirmed yet."""
    return Agreement.objects.filter(
        status__in=Agreement.LIVE_STATUSES, termination_requested_at__isnull=False
    ).order_by("termination_requested_at", "pk")


@dataclass(frozen=True)
class RenewalSummary:
    """What a learner sees of a membership's automatic renewal."""

    OFF = "off"
    SIGNING = "signing"  # an agreement waits for the learner's signature at the gateway
    ON = "on"
    TURNING_OFF = "turning_off"  # asked to end; the gateway has not confirmed yet

    membership: Membership
    state: str
    offered: bool
    agreement: Agreement | None = None
    renewal: Renewal | None = None
    channel_label: str = ""
    next_charge_on: date | None = None
    next_charge_amount: int | None = None
    above_cap: bool = False
    grace_until: datetime | None = None
    last_failure: str = ""
    channels: list[tuple[str, str]] = field(default_factory=list)

    @property
    def action(self) -> dict:
        return self.agreement.action if self.state == self.SIGNING and self.agreement else {}

    @property
    def sign_url(self) -> str:
        action = self.action
        return next(
            (
                url
                for url in (action.get("redirect_url", ""), action.get("code_url", ""))
                if url.startswith("http")
            ),
            "",
        )


def renewal_summary(*, membership: Membership) -> RenewalSummary:
    plan = membership.plan
    offered = plan.renewal_allowed and plan.is_active
    channels = [(channel, channel_label(channel)) for channel in available_withholding_channels()]
    agreement = agreement_live(membership_id=membership.pk)
    if agreement is None:
        return RenewalSummary(
            membership=membership, state=RenewalSummary.OFF, offered=offered, channels=channels
        )
    if agreement.termination_requested_at:
        state = RenewalSummary.TURNING_OFF
    elif agreement.status == Agreement.Status.PENDING:
        state = RenewalSummary.SIGNING
    else:
        state = RenewalSummary.ON
    renewal = Renewal.objects.filter(membership=membership, status__in=Renewal.OPEN_STATUSES).first()
    next_on = None
    if state == RenewalSummary.ON:
        if renewal is not None:
            next_on = renewal.charge_on
        elif membership.ends_at is not None:
            rules = get_gateway(agreement.gateway).withholding_rules
            next_on = schedule.charge_day(membership.ends_at, rules, agreement.period_unit)
    return RenewalSummary(
        membership=membership,
        state=state,
        offered=offered,
        agreement=agreement,
        renewal=renewal,
        channel_label=channel_label(agreement.channel),
        next_charge_on=next_on,
        next_charge_amount=plan.price if next_on else None,
        above_cap=plan.price > agreement.amount_cap,
        grace_until=membership.grace_until,
        last_failure=renewal.failure_reason if renewal else "",
        channels=channels,
    )
