"""A risk assessment (``core.risk.RiskDecision.as_record``) as staff read it: the decision,
what was assessed (amount in yuan, local time, IP, device, payer) and each rule's verdict
with its reason in words. Shown on the order, the payment and the risk review pages."""

from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from core.risk import STAGE_LABELS, Decision, explain_reason

from .columns import yuan


def _local(value: str | None) -> str:
    moment = parse_datetime(value) if isinstance(value, str) else None
    if moment is None:
        return "-"
    if timezone.is_aware(moment):
        moment = timezone.localtime(moment)
    return formats.date_format(moment, "DATETIME_FORMAT")


def decision_label(code: str | None) -> str:
    if not code:
        return "-"
    return str(dict(Decision.choices).get(code, code))


def _verdict_row(verdict: dict) -> tuple:
    if verdict.get("error"):
        result, why = _("error"), _("The rule failed; it did not decide.")
    elif verdict.get("hit"):
        result = _("hit")
        reason = verdict.get("reason")
        why = explain_reason(reason) if reason else verdict.get("why", "")
    else:
        result, why = _("no hit"), ""
    action = decision_label(verdict.get("action"))
    if verdict.get("monitor_only"):
        action = _("%(action)s (monitor only: not enforced)") % {"action": action}
    css = "kpay-hit" if verdict.get("hit") else ""
    return css, verdict.get("rule", "-"), action, result, why


def risk_assessment_html(record: dict | None) -> str:
    """The assessment in words (or "-" when there is none)."""
    if not record:
        return "-"
    inputs = record.get("inputs") or {}
    stage = STAGE_LABELS.get(record.get("stage"), record.get("stage") or "")
    amount = inputs.get("amount")
    facts = [
        (_("amount"), yuan(amount) if isinstance(amount, int) else "-"),
        (_("time"), _local(inputs.get("at") or record.get("assessed_at"))),
        (_("IP address"), inputs.get("ip") or "-"),
        (_("device"), inputs.get("device_id") or "-"),
        (_("payer"), inputs.get("payer_id") or "-"),
    ]
    verdicts = sorted(record.get("verdicts") or [], key=lambda v: not v.get("hit"))
    rows = format_html_join(
        "",
        '<tr class="{}"><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        (_verdict_row(verdict) for verdict in verdicts),
    )
    table = (
        format_html(
            '<table class="kpay-verdicts"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th></tr>'
            "</thead><tbody>{}</tbody></table>",
            _("rule"),
            _("on a hit"),
            _("result"),
            _("why"),
            rows,
        )
        if verdicts
        else format_html("<p>{}</p>", _("No rule applied."))
    )
    return format_html(
        '<div class="kpay-assessment"><p><strong>{}: {}</strong></p><dl class="kpay-facts">{}</dl>{}</div>',
        stage,
        decision_label(record.get("decision")),
        format_html_join("", "<dt>{}</dt><dd>{}</dd>", facts),
        table,
    )
