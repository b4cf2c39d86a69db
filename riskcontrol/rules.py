"""Rule kinds. Adding one is one small class: its parameters (a schema,
:mod:`riskcontrol.params`: it validates stored parameters and makes the admin's form), the
aggregates over the learner's history it needs, and ``hit()``, which says why the rule
hits (a :class:`~riskcontrol.params.Reason`, shown in words to reviewers), or None.

Counting kinds declare their windows as scalar SQL subqueries over indexed columns
(learner, IP or device + time), with bound parameters, or as aggregates over the
learner's orders (read in one pass over them, whichever rules ask); the engine fetches
the learner with every aggregate the enabled rules asked for in one query, whatever
their number.
"""

from __future__ import annotations

import functools
import ipaddress
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import NamedTuple

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import BigIntegerField, Expression
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop
from psycopg.pq import Format
from psycopg.types.numeric import Int8

from core.bound import bound_cursor
from orders.models import Order
from payments.models import Payment, Refund
from promotions.models import Coupon, Redemption, WalletCoupon
from promotions.services import normalize_code

from .params import Choice, Count, Money, Param, Ratio, Reason, Values, stored_form

KINDS: dict[str, RuleKind] = {}


def register(cls):
    KINDS[cls.name] = cls()
    return cls


class SQLAggregate(NamedTuple):
    """An aggregate a rule kind declares: a scalar SQL subquery over indexed columns and
    its parameters, ``%s`` each, datetimes as Python values (adapted for the database
    backend in one place, :class:`Facts`, not by every rule on every assessment)."""

    sql: str
    params: list
    # True: ``sql`` is an aggregate over the learner's orders, rows ``o`` (``COUNT(*)
    # FILTER (WHERE o.paid_at < %s)``). On PostgreSQL those of every rule are read in one
    # pass over the learner's orders (a LATERAL subquery), where each was a scan of the
    # same rows of its own; elsewhere each is its own subquery (:meth:`subquery`).
    per_learner_order: bool = False

    def subquery(self, learner_id) -> tuple[str, list]:
        """This aggregate as a scalar subquery of its own, and its parameters."""
        if not self.per_learner_order:
            return self.sql, self.params
        learner = _column(Order, "learner")
        sql = f"COALESCE((SELECT {self.sql} FROM {_table(Order)} o WHERE o.{learner} = %s), 0)"
        return sql, [*self.params, learner_id]


class Facts:
    """What rules want to know beyond the context: the learner and the aggregates over
    their history that the rules declared, fetched together the first time one asks."""

    def __init__(self, context, aggregates: dict[str, SQLAggregate | Expression] | None = None):
        self.context = context
        self.aggregates = aggregates or {}

    @cached_property
    def learner(self):
        raw = all(type(e) is SQLAggregate for e in self.aggregates.values())
        if raw and connection.vendor == "postgresql":
            return self._learner_in_raw_sql()
        return self._learner_by_orm()

    def _learner_by_orm(self):
        ops = connection.ops
        annotations = {}
        for name, e in self.aggregates.items():
            if type(e) is SQLAggregate:
                sql, params = e.subquery(self.context.learner_id)
                params = [ops.adapt_datetimefield_value(p) if isinstance(p, datetime) else p for p in params]
                e = RawSQL(sql, params, output_field=_BIGINT)
            annotations[name] = e
        return (
            get_user_model()
            ._default_manager.only("email", "date_joined")
            .filter(pk=self.context.learner_id)
            .annotate(**annotations)
            .first()
        )

    def _learner_in_raw_sql(self):
        """The same row as :meth:`_learner_by_orm`'s, in SQL written here: the aggregates are
        raw subqueries already, and compiling the ORM's query cost more than running it
        (about 1 ms of Python in 2.7 on every assessment, measured with bench/risk_assessment.py).

        Integers go as ``bigint`` whatever their size: psycopg would otherwise type a small
        learner id ``smallint`` and a larger one ``integer``, two prepared statements on
        each connection, each planned afresh five times (1.7 ms each at a million orders)
        before PostgreSQL settles on its generic plan."""
        aggregates = self.aggregates
        names = tuple(aggregates)
        per_order = tuple(aggregates[name].per_learner_order for name in names)
        sql = _learner_sql(names, tuple(aggregates[name].sql for name in names), per_order)
        # The select list's subqueries' parameters, then those of the pass over the
        # learner's orders, then the learner's id (the statement's order).
        ordered = [name for name, per in zip(names, per_order, strict=True) if not per]
        ordered += [name for name, per in zip(names, per_order, strict=True) if per]
        params = [
            *(Int8(p) if type(p) is int else p for name in ordered for p in aggregates[name].params),
            Int8(self.context.learner_id),
        ]
        # Bound and prepared on the connection by psycopg (core.bound): PostgreSQL plans
        # the dozen subqueries once per connection, not on every assessment (planning took
        # 1.2 ms against 0.3 ms of running at a million orders).
        with bound_cursor() as cursor:
            # The row in binary: its integers, sums and date parsed without text (about a
            # sixth of psycopg's CPU for the statement). Django's wrapper passes no
            # ``binary``: the format is psycopg's cursor's default, set on it.
            cursor.cursor.format = _BINARY
            cursor.execute(sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        learner = _Learner(email=row[0], date_joined=row[1])
        for name, value in zip(names, row[2:], strict=True):
            setattr(learner, name, value)
        return learner

    def aggregate(self, name: str) -> int:
        if self.learner is None:
            return 0
        return int(getattr(self.learner, name, 0) or 0)


class _Learner:
    """The learner's e-mail and date joined, and the aggregates, as attributes."""

    def __init__(self, *, email: str, date_joined):
        self.email, self.date_joined = email, date_joined


@functools.lru_cache(maxsize=256)
def _learner_sql(names: tuple[str, ...], aggregates: tuple[str, ...], per_order: tuple[bool, ...]) -> str:
    """The learner's row with ``aggregates`` (each with its own parameters) named ``names``:
    scalar subqueries, or (``per_order``) aggregates over the learner's orders, read in one
    LATERAL pass over them. Its parameters: the subqueries', then the pass's, then the
    learner's id. One string per set of rules."""
    user = get_user_model()._meta
    quote = connection.ops.quote_name
    table = quote(user.db_table)
    columns = [f"{table}.{quote(user.get_field(name).column)}" for name in ("email", "date_joined")]
    over_orders = []
    for name, sql, per in zip(names, aggregates, per_order, strict=True):
        if per:
            over_orders.append(f"{sql} AS {quote(name)}")
            columns.append(f"COALESCE(lo.{quote(name)}, 0) AS {quote(name)}")
        else:
            columns.append(f"{sql} AS {quote(name)}")
    tables = table
    if over_orders:
        learner = f"o.{_column(Order, 'learner')} = {table}.{quote(user.pk.column)}"
        tables += f", LATERAL (SELECT {', '.join(over_orders)} FROM {_table(Order)} o WHERE {learner}) lo"
    return f"SELECT {', '.join(columns)} FROM {tables} WHERE {table}.{quote(user.pk.column)} = %s"


@functools.cache
def _table(model) -> str:
    return connection.ops.quote_name(model._meta.db_table)


@functools.cache
def _column(model, field: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(field).column)


def _sql(sql: str, params: list) -> SQLAggregate:
    """A scalar subquery with bound parameters: cheap to build on every assessment, unlike
    an ORM subquery (which costs about a millisecond a rule to construct and compile)."""
    return SQLAggregate(f"COALESCE(({sql}), 0)", params)


def _per_learner_order(sql: str, params: list) -> SQLAggregate:
    """An aggregate over the learner's orders (rows ``o``), read with the other rules' in
    one pass over them (:class:`SQLAggregate`)."""
    return SQLAggregate(sql, params, per_learner_order=True)


_BINARY = Format.BINARY
_BIGINT = BigIntegerField()  # shared: a field per subquery cost more than the rest of building it


class RuleKind:
    name = ""
    label = ""
    stages: tuple[str, ...] = ("checkout",)
    params: dict[str, Param] = {}

    def aggregates(self, params: dict, context) -> dict[str, SQLAggregate | Expression]:
        """Aggregates over the learner's history this rule reads (``facts.aggregate``)."""
        return {}

    def hit(self, params: dict, context, facts: Facts) -> Reason | None:
        raise NotImplementedError

    def clean(self, params: dict) -> dict:
        """Checks across parameters, after each is valid (ValidationError by parameter)."""
        return params

    @cached_property
    def Params(self) -> type[forms.Form]:
        return stored_form(self.params)

    def clean_params(self, params) -> dict:
        """Validated, normalised parameters; ValidationError with the form's messages."""
        if not isinstance(params, dict):
            raise ValidationError(_("Parameters must be a JSON object."))
        form = self.Params(data=params)
        if not form.is_valid():
            raise ValidationError([f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()])
        unknown = set(params) - set(form.fields)
        if unknown:
            raise ValidationError(_("Unknown parameters: %(names)s") % {"names": ", ".join(sorted(unknown))})
        cleaned = {name: value for name, value in form.cleaned_data.items() if value is not None}
        return self.clean(cleaned)

    def describe(self, params: dict) -> str:
        """The parameters in words: "limit: ¥10,000.00"."""
        return "; ".join(
            f"{param.label}: {param.describe(params.get(name))}"
            for name, param in self.params.items()
            if name in (params or {})
        )


def validate_rule(rule) -> None:
    """Model validation for a Rule: a known kind and parameters it accepts."""
    kind = KINDS.get(rule.kind)
    if kind is None:
        raise ValidationError(
            {"kind": _("Unknown kind. Choose one of: %(kinds)s") % {"kinds": ", ".join(KINDS)}}
        )
    try:
        rule.params = kind.clean_params(rule.params)
    except ValidationError as exc:
        raise ValidationError({"params": exc.messages}) from exc


def _window_start(context, minutes: int):
    return context.at - timedelta(minutes=minutes)


WINDOW = Count(_("time window (minutes)"), max_value=60 * 24 * 90, help_text=_("Up to 90 days."))
MAX_COUNT = Count(_("hit at this many"))
LIMIT = Money(_("limit"))


@register
class AmountAbove(RuleKind):
    name = "amount_above"
    label = _("A single order above an amount")
    params = {"amount": LIMIT}

    def hit(self, params, context, facts):
        if context.amount > params["amount"]:
            return Reason(
                gettext_noop("The order's amount %(amount)s is above %(limit)s."),
                {"amount": context.amount, "limit": params["amount"]},
                money=("amount", "limit"),
            )
        return None


class _CountInWindow(RuleKind):
    """Counts over the learner's history in a time window: a hit at ``max_count``."""

    params = {"window_minutes": WINDOW, "max_count": MAX_COUNT}
    prefix = ""  # of the aggregate's name
    message = ""  # with %(count)s, %(minutes)s and %(max)s

    def _key(self, params) -> str:
        return f"{self.prefix}_in_{params['window_minutes']}m"

    def hit(self, params, context, facts):
        return self._counted(params, facts)

    def _counted(self, params, facts, message: str = "", **values) -> Reason | None:
        count = facts.aggregate(self._key(params))
        if count >= params["max_count"]:
            return Reason(
                message or self.message,
                {"count": count, "minutes": params["window_minutes"], "max": params["max_count"], **values},
            )
        return None


@register
class OrdersPerLearner(_CountInWindow):
    name = "orders_per_learner"
    label = _("Orders per learner in a time window")
    prefix = "orders"
    message = gettext_noop(
        "%(count)s orders by this learner in the last %(minutes)s minutes (hit at %(max)s)."
    )

    def aggregates(self, params, context):
        created = _column(Order, "created_at")
        sql = (
            f"SELECT COUNT(*) FROM {_table(Order)} WHERE {_column(Order, 'learner')} = %s"
            f" AND {created} >= %s AND {created} < %s"
        )
        start = _window_start(context, params["window_minutes"])
        return {self._key(params): _sql(sql, [context.learner_id, start, context.at])}


@register
class FailedPaymentsPerLearner(_CountInWindow):
    name = "failed_payments_per_learner"
    label = _("Failed or declined payments per learner in a time window")
    stages = ("checkout", "payment")
    prefix = "failed"
    message = gettext_noop(
        "%(count)s failed or declined payments by this learner in the last %(minutes)s minutes"
        " (hit at %(max)s)."
    )

    def aggregates(self, params, context):
        # The learner's orders first (by their index), then each order's payments (by
        # theirs): a join let PostgreSQL hash every failed payment of the window, all
        # learners' (thousands at a million orders), for the handful of this learner's.
        created = f"p.{_column(Payment, 'created_at')}"
        per_order = (
            f"SELECT COUNT(*) FROM {_table(Payment)} p"
            f" WHERE p.{_column(Payment, 'order')} = o.{_column(Order, 'id')}"
            f" AND p.{_column(Payment, 'status')} = %s AND {created} >= %s AND {created} < %s"
        )
        start = _window_start(context, params["window_minutes"])
        args = [Payment.Status.FAILED.value, start, context.at]
        return {self._key(params): _per_learner_order(f"SUM(({per_order}))", args)}


@register
class LearnerDailyTotal(RuleKind):
    name = "learner_daily_total"
    label = _("A learner's total paid in a day above an amount")
    params = {"amount": LIMIT}

    def aggregates(self, params, context):
        day_start = timezone.localtime(context.at).replace(hour=0, minute=0, second=0, microsecond=0)
        paid_at = f"o.{_column(Order, 'paid_at')}"
        sql = f"SUM(o.{_column(Order, 'total')}) FILTER (WHERE {paid_at} >= %s AND {paid_at} < %s)"
        return {"paid_today": _per_learner_order(sql, [day_start, context.at])}

    def hit(self, params, context, facts):
        paid = facts.aggregate("paid_today")
        if paid + context.amount > params["amount"]:
            return Reason(
                gettext_noop(
                    "Paid today %(paid)s, with this order %(amount)s: above the day's limit of %(limit)s."
                ),
                {"paid": paid, "amount": context.amount, "limit": params["amount"]},
                money=("paid", "amount", "limit"),
            )
        return None


@register
class NewAccountAmount(RuleKind):
    name = "new_account_amount"
    label = _("A new account buying above an amount")
    params = {
        "hours": Count(_("new for (hours)"), help_text=_("An account younger than this is new.")),
        "amount": LIMIT,
    }

    def hit(self, params, context, facts):
        learner = facts.learner
        if learner is None:
            return None
        young = learner.date_joined > context.at - timedelta(hours=params["hours"])
        if young and context.amount > params["amount"]:
            return Reason(
                gettext_noop("An account %(hours)s hours old or less buys for %(amount)s, above %(limit)s."),
                {"hours": params["hours"], "amount": context.amount, "limit": params["amount"]},
                money=("amount", "limit"),
            )
        return None


LIST_FIELDS = [
    ("learner", _("learner id")),
    ("email_domain", _("e-mail domain")),
    ("ip", _("IP address or CIDR range")),
    ("device", _("device id")),
    ("payer", _("payer identity (WeChat openid, Alipay buyer id)")),
]
_LISTED = {
    "learner": gettext_noop("The learner (id %(value)s) is on the list."),
    "email_domain": gettext_noop("The e-mail domain %(value)s is on the list."),
    "device": gettext_noop("The device %(value)s is on the list."),
    "payer": gettext_noop("The payer %(value)s is on the list."),
}


@register
class ListMatch(RuleKind):
    """A blocklist (action block), a watchlist (review) or an allowlist (allow)."""

    name = "list"
    label = _("Blocklist or allowlist: learner, e-mail domain, IP/CIDR, device, payer")
    stages = ("checkout", "payment")
    params = {
        "field": Choice(_("what is listed"), choices=LIST_FIELDS),
        "values": Values(
            _("values"),
            help_text=_("One a line (or separated by commas), e.g. 203.0.113.0/24 or example.com."),
        ),
    }

    def clean(self, params):
        values = params.get("values")
        if not isinstance(values, list) or not values or not all(isinstance(v, str | int) for v in values):
            raise ValidationError({"values": _("A non-empty list of values.")})
        values = [str(v).strip().lower() for v in values]
        if params.get("field") == "ip":
            try:
                values = [str(ipaddress.ip_network(v, strict=False)) for v in values]
            except ValueError as exc:
                raise ValidationError({"values": str(exc)}) from exc
        return {**params, "values": values}

    def hit(self, params, context, facts):
        value = self._value(params["field"], context, facts)
        if value is None:
            return None
        if params["field"] == "ip":
            try:
                address = ipaddress.ip_address(value)
            except ValueError:
                return None
            for network in params["values"]:
                if address in _network(network):
                    return Reason(
                        gettext_noop("The IP address %(value)s is in the listed range %(network)s."),
                        {"value": value, "network": network},
                    )
            return None
        if value in params["values"]:
            return Reason(_LISTED[params["field"]], {"value": value})
        return None

    @staticmethod
    def _value(field, context, facts) -> str | None:
        if field == "learner":
            return str(context.learner_id)
        if field == "email_domain":
            learner = facts.learner
            return learner.email.rpartition("@")[2].lower() if learner and learner.email else None
        if field == "ip":
            return context.ip
        if field == "device":
            return (context.device_id or "").lower() or None
        return (context.payer_id or "").lower() or None


@functools.lru_cache(maxsize=1024)
def _network(text: str):
    """A listed range, parsed once per process, not on every assessment (stored normalised,
    ``ListMatch.clean``)."""
    return ipaddress.ip_network(text)


CLIENT_FIELDS = [("ip", _("IP address")), ("device", _("device id"))]


class _PerClient(_CountInWindow):
    """Counts over the orders placed from the same IP address or device."""

    params = {
        "by": Choice(_("counted by"), choices=CLIENT_FIELDS),
        "window_minutes": WINDOW,
        "max_count": MAX_COUNT,
    }
    stages = ("checkout", "payment")
    messages: dict[str, str] = {}  # by "ip" / "device": with %(value)s too

    def _client_value(self, params, context) -> str | None:
        return (context.ip if params["by"] == "ip" else context.device_id) or None

    def _client_where(self, params, context) -> tuple[str, list]:
        """The WHERE clause (and its parameters) of this client's orders in the window."""
        field = "client_ip" if params["by"] == "ip" else "device_id"
        created = _column(Order, "created_at")
        start = _window_start(context, params["window_minutes"])
        where = f"{_column(Order, field)} = %s AND {created} >= %s AND {created} < %s"
        return where, [self._client_value(params, context), start, context.at]

    def _key(self, params):
        return f"{self.name}_{params['by']}_{params['window_minutes']}m"

    def aggregates(self, params, context):
        if self._client_value(params, context) is None:
            return {}
        where, args = self._client_where(params, context)
        return {self._key(params): _sql(*self._count(where, args, context))}

    def _count(self, where: str, args: list, context) -> tuple[str, list]:
        """The counting query over the client's orders in the window (``where``)."""
        raise NotImplementedError

    def hit(self, params, context, facts):
        value = self._client_value(params, context)
        if value is None:
            return None
        return self._counted(params, facts, self.messages[params["by"]], value=value)


@register
class OrdersPerClient(_PerClient):
    name = "orders_per_client"
    label = _("Orders per IP address or device in a time window")
    messages = {
        "ip": gettext_noop(
            "%(count)s orders from the IP address %(value)s in the last %(minutes)s minutes (hit at %(max)s)."
        ),
        "device": gettext_noop(
            "%(count)s orders from the device %(value)s in the last %(minutes)s minutes (hit at %(max)s)."
        ),
    }

    def _count(self, where, args, context):
        return f"SELECT COUNT(*) FROM {_table(Order)} WHERE {where}", args


@register
class AccountsPerClient(_PerClient):
    name = "accounts_per_client"
    label = _("Other accounts buying from the same IP address or device in a time window")
    messages = {
        "ip": gettext_noop(
            "%(count)s other accounts bought from the IP address %(value)s in the last %(minutes)s minutes"
            " (hit at %(max)s)."
        ),
        "device": gettext_noop(
            "%(count)s other accounts bought from the device %(value)s in the last %(minutes)s minutes"
            " (hit at %(max)s)."
        ),
    }

    def _count(self, where, args, context):
        learner = _column(Order, "learner")
        sql = f"SELECT COUNT(DISTINCT {learner}) FROM {_table(Order)} WHERE {where} AND {learner} <> %s"
        return sql, [*args, context.learner_id]


@register
class CouponAccountsPerClient(_PerClient):
    """Coupon abuse: many accounts on one IP address or device redeeming the same coupon
    (campaign). Counts the other accounts that redeemed, in the window, from this client,
    the coupon this checkout uses (checkout stage: the code or wallet coupon the learner
    gave, looked up in the same statement), or any coupon this learner redeemed in the
    window too (payment stage and back-tests, where the redemptions are written).
    Released uses count: probing counts."""

    name = "coupon_accounts_per_client"
    label = _("Other accounts redeeming the same coupon from the same IP address or device in a time window")
    stages = ("checkout", "payment")
    messages = {
        "ip": gettext_noop(
            "%(count)s other accounts redeemed the same coupon from the IP address %(value)s in the last"
            " %(minutes)s minutes (hit at %(max)s)."
        ),
        "device": gettext_noop(
            "%(count)s other accounts redeemed the same coupon from the device %(value)s in the last"
            " %(minutes)s minutes (hit at %(max)s)."
        ),
    }

    def aggregates(self, params, context):
        value = self._client_value(params, context)
        if value is None or context.coupon == "":  # a checkout without a coupon
            return {}
        field = "client_ip" if params["by"] == "ip" else "device_id"
        start, end = _window_start(context, params["window_minutes"]), context.at
        redemption, order = _table(Redemption), _table(Order)
        r_coupon, r_learner = _column(Redemption, "coupon"), _column(Redemption, "learner")
        r_created = _column(Redemption, "created_at")
        coupons, coupon_args = self._coupons(context, r_coupon, r_learner, r_created, start, end)
        sql = (
            f"SELECT COUNT(DISTINCT r.{r_learner}) FROM {redemption} r"
            f" JOIN {order} o ON o.{_column(Order, 'id')} = r.{_column(Redemption, 'order')}"
            f" WHERE o.{_column(Order, field)} = %s AND r.{r_created} >= %s AND r.{r_created} < %s"
            f" AND r.{r_learner} <> %s AND r.{r_coupon} IN ({coupons})"
        )
        args = [value, start, end, context.learner_id, *coupon_args]
        return {self._key(params): _sql(sql, args)}

    @staticmethod
    def _coupons(context, r_coupon, r_learner, r_created, start, end) -> tuple[str, list]:
        """The coupons in question, as a subquery: the one given at checkout (a code, or
        one of the learner's wallet coupons, as ``promotions`` reads it), else those the
        learner redeemed in the window."""
        if context.coupon is None:
            sql = (
                f"SELECT {r_coupon} FROM {_table(Redemption)} WHERE {r_learner} = %s"
                f" AND {r_created} >= %s AND {r_created} <= %s"
            )
            return sql, [context.learner_id, start, end]
        by_code = f"SELECT {_column(Coupon, 'id')} FROM {_table(Coupon)} WHERE {_column(Coupon, 'code')} = %s"
        args = [normalize_code(context.coupon)[:32]]
        if context.coupon.isdigit() and len(context.coupon) <= 18:  # a bigint
            by_wallet = (
                f"SELECT {_column(WalletCoupon, 'coupon')} FROM {_table(WalletCoupon)}"
                f" WHERE {_column(WalletCoupon, 'id')} = %s AND {_column(WalletCoupon, 'learner')} = %s"
            )
            return f"{by_code} UNION {by_wallet}", [*args, int(context.coupon), context.learner_id]
        return by_code, args


@register
class RefundRatio(RuleKind):
    name = "refund_ratio"
    label = _("A learner's share of paid orders with a refund asked for (not denied) above a threshold")
    stages = ("checkout", "payment")
    params = {
        "min_orders": Count(_("paid orders before it counts")),
        "max_ratio": Ratio(_("share of orders refunded"), help_text=_("0.00 to 1.00, e.g. 0.40 for 40%.")),
    }

    def aggregates(self, params, context):
        paid_at = _column(Order, "paid_at")
        paid = f"o.{_column(Order, 'learner')} = %s AND o.{paid_at} < %s"
        at = context.at
        # Money returned because it was paid twice (an unapplied payment) is not the
        # learner asking for a refund: only refunds of the order's own payment count.
        refunded = (
            f"SELECT COUNT(DISTINCT o.{_column(Order, 'id')}) FROM {_table(Order)} o"
            f" JOIN {_table(Refund)} r ON r.{_column(Refund, 'order')} = o.{_column(Order, 'id')}"
            f" JOIN {_table(Payment)} p ON p.{_column(Payment, 'id')} = r.{_column(Refund, 'payment')}"
            f" WHERE {paid} AND r.{_column(Refund, 'created_at')} < %s"
            f" AND r.{_column(Refund, 'status')} <> %s AND p.{_column(Payment, 'status')} <> %s"
        )
        return {
            "paid_orders": _per_learner_order(f"COUNT(*) FILTER (WHERE o.{paid_at} < %s)", [at]),
            "refunded_orders": _sql(
                refunded,
                [context.learner_id, at, at, Refund.Status.DENIED.value, Payment.Status.UNAPPLIED.value],
            ),
        }

    def hit(self, params, context, facts):
        paid, refunded = facts.aggregate("paid_orders"), facts.aggregate("refunded_orders")
        if paid >= params["min_orders"] and refunded > paid * Decimal(params["max_ratio"]):
            return Reason(
                gettext_noop(
                    "%(refunded)s of the learner's %(paid)s paid orders had a refund: above %(ratio)s."
                ),
                {"refunded": refunded, "paid": paid, "ratio": f"{Decimal(params['max_ratio']) * 100:.0f}%"},
            )
        return None
