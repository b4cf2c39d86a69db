from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from core.http import ClientInfo
from core.risk import CheckoutContext
from orders.exceptions import CheckoutRefused
from orders.models import Order
from orders.services import order_checkout
from riskcontrol.backtest import backtest
from riskcontrol.engine import decide, evaluate
from riskcontrol.models import Rule, RuleChange
from riskcontrol.rules import KINDS
from riskcontrol.services import rule_delete, rule_save
from tests.factories import CourseFactory, UserFactory


def context(learner, **overrides):
    values = {
        "learner_id": learner.pk,
        "merchant_id": 1,
        "course_ids": (1,),
        "amount": 9900,
        "currency": "CNY",
    }
    values.update(overrides)
    return CheckoutContext(**values)


def rule(kind, params, action="block", **fields):
    return {
        "pk": 0,
        "name": f"{kind} rule",
        "kind": kind,
        "params": params,
        "action": action,
        "monitor_only": False,
        **fields,
    }


def hits(kind, params, ctx, stage="checkout"):
    params = KINDS[kind].clean_params(params)  # as the admin and rule_save do
    _decision, verdicts, _us = evaluate(stage, ctx, [rule(kind, params)])
    return verdicts[0]["hit"]


def test_amount_above(learner):
    assert hits("amount_above", {"amount": 9899}, context(learner))
    assert not hits("amount_above", {"amount": 9900}, context(learner))


def test_orders_per_learner_in_a_window(learner, course):
    order_checkout(learner=learner, course_slug=course.slug)
    order_checkout(learner=learner, course_slug=CourseFactory().slug)
    params = {"window_minutes": 60, "max_count": 2}
    assert hits("orders_per_learner", params, context(learner))
    assert not hits("orders_per_learner", {**params, "max_count": 3}, context(learner))
    later = context(learner, at=timezone.now() + timedelta(hours=2))
    assert not hits("orders_per_learner", params, later)


def test_failed_payments_per_learner(learner, course, sandbox):
    from payments.services import payment_start

    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel="sandbox")
    params = {"window_minutes": 30, "max_count": 1}
    assert not hits("failed_payments_per_learner", params, context(learner))
    sandbox.pay(payment, event_type="TRADE.FAILED", state="PAYERROR")
    assert hits("failed_payments_per_learner", params, context(learner))


def test_failed_payments_per_learner_counts_every_order_and_no_one_elses(learner, sandbox):
    """The count goes order by order (the learner's orders, then each one's payments):
    two failed payments of one order and one of another count three; another learner's
    failed payment and a payment outside the window do not count."""
    from payments.services import payment_start

    other = UserFactory()
    first, second, others = (
        order_checkout(learner=buyer, course_slug=CourseFactory().slug).order
        for buyer in (learner, learner, other)
    )
    for buyer, order in ((learner, first), (learner, first), (learner, second), (other, others)):
        payment = payment_start(learner=buyer, order_no=order.order_no, channel="sandbox")
        sandbox.pay(payment, event_type="TRADE.FAILED", state="PAYERROR")
    params = {"window_minutes": 30, "max_count": 3}
    assert hits("failed_payments_per_learner", params, context(learner))
    assert not hits("failed_payments_per_learner", {**params, "max_count": 4}, context(learner))
    assert not hits("failed_payments_per_learner", {**params, "max_count": 2}, context(other))
    later = context(learner, at=timezone.now() + timedelta(hours=1))
    assert not hits("failed_payments_per_learner", {**params, "max_count": 1}, later)


def test_learner_daily_total(learner, course, sandbox):
    from payments.services import payment_start

    order = order_checkout(learner=learner, course_slug=course.slug).order
    sandbox.pay(payment_start(learner=learner, order_no=order.order_no, channel="sandbox"))
    assert hits("learner_daily_total", {"amount": 9900 + 9899}, context(learner))
    assert not hits("learner_daily_total", {"amount": 9900 + 9900}, context(learner))


def test_new_account_buying_above_an_amount(db):
    newcomer = UserFactory()
    veteran = UserFactory(date_joined=timezone.now() - timedelta(days=30))
    params = {"hours": 24, "amount": 5000}
    assert hits("new_account_amount", params, context(newcomer))
    assert not hits("new_account_amount", params, context(veteran))
    assert not hits("new_account_amount", params, context(newcomer, amount=5000))


@pytest.mark.parametrize(
    ("field", "values", "overrides", "expected"),
    [
        ("ip", ["203.0.113.0/24"], {"ip": "203.0.113.77"}, True),
        ("ip", ["203.0.113.0/24"], {"ip": "198.51.100.1"}, False),
        ("ip", ["2001:db8::/32"], {"ip": "2001:db8::1"}, True),
        ("device", ["dev-bad"], {"device_id": "DEV-BAD"}, True),
        ("device", ["dev-bad"], {"device_id": None}, False),
        ("payer", ["o_openid_1"], {"payer_id": "o_openid_1"}, True),
        ("email_domain", ["spam.example"], {}, True),
        ("email_domain", ["other.example"], {}, False),
    ],
)
def test_lists(db, field, values, overrides, expected):
    learner = UserFactory(email="someone@SPAM.example")
    assert (
        hits("list", {"field": field, "values": values}, context(learner, **overrides), stage="payment")
        is expected
    )


def test_learner_list(learner):
    assert hits("list", {"field": "learner", "values": [learner.pk]}, context(learner))


def test_block_beats_allow_beats_review_and_monitor_only_never_decides():
    def v(action, hit=True, monitor_only=False):
        return {"action": action, "hit": hit, "monitor_only": monitor_only}

    assert decide([v("review"), v("allow"), v("block")]) == "block"
    assert decide([v("review"), v("allow")]) == "allow"  # an allowlist wins over review
    assert decide([v("review")]) == "review"
    assert decide([v("block", monitor_only=True)]) == "allow"
    assert decide([v("block", hit=False)]) == "allow"
    assert decide([]) == "allow"


def save(admin_user, **fields):
    return rule_save(rule=Rule(**fields), actor=admin_user)


def test_checkout_honours_a_block_and_records_monitor_only_hits(learner, course, admin_user):
    save(
        admin_user,
        name="watch big",
        kind="amount_above",
        params={"amount": 1},
        action="block",
        monitor_only=True,
    )
    result = order_checkout(learner=learner, course_slug=course.slug)
    verdicts = result.order.risk_assessment["verdicts"]
    assert result.order.risk_assessment["decision"] == "allow"
    assert verdicts == [
        {
            "rule": "watch big",
            "kind": "amount_above",
            "action": "block",
            "monitor_only": True,
            "hit": True,
            "why": "The order's amount ¥99.00 is above ¥0.01.",
            "reason": {
                "message": "The order's amount %(amount)s is above %(limit)s.",
                "values": {"amount": 9900, "limit": 1},
                "money": ["amount", "limit"],
            },
        }
    ]

    save(
        admin_user,
        name="bad ip",
        kind="list",
        params={"field": "ip", "values": ["10.9.0.0/16"]},
        action="block",
    )
    other = CourseFactory()
    with pytest.raises(CheckoutRefused):
        order_checkout(learner=learner, course_slug=other.slug, client=ClientInfo(ip="10.9.8.7"))
    assert not Order.objects.filter(lines__0__course_id=other.pk).exists()
    assert order_checkout(learner=learner, course_slug=other.slug, client=ClientInfo(ip="10.8.0.1")).created


def test_a_broken_rule_does_not_stop_purchases(learner, course, admin_user):
    Rule.objects.create(name="broken", kind="amount_above", params={}, action="block")  # skips validation
    result = order_checkout(learner=learner, course_slug=course.slug)
    assert result.created
    assert result.order.risk_assessment["verdicts"][0]["error"] is True


def test_rule_changes_are_audited(admin_user):
    created = save(admin_user, name="big", kind="amount_above", params={"amount": 100}, action="review")
    created.params = {"amount": 200}
    rule_save(rule=created, actor=admin_user)
    rule_delete(rule=created, actor=admin_user)

    changes = list(RuleChange.objects.order_by("pk"))
    assert [c.change for c in changes] == ["created", "updated", "deleted"]
    assert changes[1].before["params"] == {"amount": 100} and changes[1].after["params"] == {"amount": 200}
    assert all(c.actor == admin_user for c in changes)


INLINE = {"changes-TOTAL_FORMS": "0", "changes-INITIAL_FORMS": "0"}


def add_rule(admin_client, kind, params, **fields):
    """Post the admin's rule form: ``params`` as staff type them, in the chosen kind's fields."""
    data = {"name": "r", "kind": kind, "action": "block", "priority": 100, "enabled": "on", **INLINE}
    data.update({f"{kind}__{name}": value for name, value in params.items()}, **fields)
    return admin_client.post("/admin/riskcontrol/rule/add/", data)


def test_the_admin_refuses_bad_parameters_with_a_form_error(admin_client):
    response = add_rule(admin_client, "orders_per_learner", {"window_minutes": "-5"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert set(errors) == {"orders_per_learner__window_minutes", "orders_per_learner__max_count"}
    assert not Rule.objects.exists()

    response = add_rule(admin_client, "list", {"field": "ip", "values": "not-an-ip"})
    assert response.status_code == 200 and "list__values" in response.context["adminform"].form.errors
    assert not Rule.objects.exists()

    for typed in ("4.999", "abc", "-1"):  # amounts are typed in yuan
        response = add_rule(admin_client, "amount_above", {"amount": typed})
        assert (
            response.status_code == 200
            and "amount_above__amount" in response.context["adminform"].form.errors
        )
    assert not Rule.objects.exists()

    # Another kind's fields are neither read nor checked.
    response = add_rule(
        admin_client, "amount_above", {"amount": "500.00"}, action="review", **{"list__values": "x"}
    )
    assert response.status_code == 302
    rule = Rule.objects.get()
    assert (rule.kind, rule.params, rule.action) == ("amount_above", {"amount": 50000}, "review")
    assert RuleChange.objects.get().change == "created"


def test_each_kind_has_a_form_of_its_own_parameters(admin_client):
    page = admin_client.get("/admin/riskcontrol/rule/add/")
    form = page.context["adminform"].form
    for name, kind in KINDS.items():
        assert {f"{name}__{param}" for param in kind.params} <= set(form.fields)
    text = page.content.decode()
    assert 'name="params"' not in text and "A JSON object" not in text  # no JSON box
    assert "IntegerField&quot;" not in text and "kinds and their parameters" not in text  # no class names

    response = add_rule(
        admin_client,
        "list",
        {"field": "ip", "values": "203.0.113.0/24\n198.51.100.7"},
        name="campus",
    )
    assert response.status_code == 302
    assert Rule.objects.get(name="campus").params == {
        "field": "ip",
        "values": ["203.0.113.0/24", "198.51.100.7/32"],
    }

    response = add_rule(admin_client, "refund_ratio", {"min_orders": "4", "max_ratio": "0.4"}, name="refunds")
    assert response.status_code == 302
    rule = Rule.objects.get(name="refunds")
    assert rule.params == {"min_orders": 4, "max_ratio": "0.4"}

    # The change page shows the stored parameters as staff type them (yuan, one a line).
    big = rule_save(
        rule=Rule(name="big", kind="amount_above", params={"amount": 123456}, action="review"), actor=None
    )
    form = admin_client.get(f"/admin/riskcontrol/rule/{big.pk}/change/").context["adminform"].form
    assert form["amount_above__amount"].value() == "1234.56"


def test_backtest_counts_the_orders_a_draft_rule_would_hit(learner, db):
    cheap, dear = CourseFactory(price=1000), CourseFactory(price=50000)
    order_checkout(learner=learner, course_slug=cheap.slug)
    dear_order = order_checkout(learner=learner, course_slug=dear.slug).order
    old = order_checkout(learner=UserFactory(), course_slug=dear.slug).order
    Order.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))

    result = backtest(kind="amount_above", params={"amount": 20000}, days=30)

    assert (result.checked, result.hit_order_nos) == (2, [dear_order.order_no])


def test_backtest_command(learner, course, capsys, db):
    order_checkout(learner=learner, course_slug=course.slug)
    call_command("risk_backtest", "--kind", "amount_above", "--params", '{"amount": 100}', "--days", "7")
    out = capsys.readouterr().out
    assert "1 of 1 orders in the last 7 days would hit." in out


def test_the_rule_page_shows_its_audit_trail_read_only(admin_client, admin_user):
    rule = save(admin_user, name="big", kind="amount_above", params={"amount": 100}, action="review")
    rule.params = {"amount": 200}
    rule_save(rule=rule, actor=admin_user)

    page = admin_client.get(f"/admin/riskcontrol/rule/{rule.pk}/change/")

    (trail,) = page.context["inline_admin_formsets"]
    assert [change.change for change in trail.formset.queryset.order_by("pk")] == ["created", "updated"]
    assert not (trail.has_add_permission or trail.has_change_permission or trail.has_delete_permission)
    text = page.content.decode()
    assert "¥1.00" in text and "¥2.00" in text  # before and after, in words, in yuan


@pytest.mark.postgres
@pytest.mark.parametrize("prepared", [True, False])
def test_the_learners_statement_is_prepared_once_per_connection(settings, learner, course, prepared):
    """On PostgreSQL the learner's row with its aggregates is one statement, bound on the
    server and prepared on the connection the first time (psycopg's protocol-level
    preparing, which PgBouncer 1.21+ follows), then re-used whatever the rule's limits;
    ``KPAY_PREPARED_STATEMENTS=false`` prepares nothing."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    settings.KPAY_PREPARED_STATEMENTS = prepared
    order_checkout(learner=learner, course_slug=course.slug)
    params = KINDS["orders_per_learner"].clean_params({"window_minutes": 60, "max_count": 1})
    params_of_none = KINDS["orders_per_learner"].clean_params({"window_minutes": 60, "max_count": 2})

    def prepared_statements() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            return cursor.fetchone()[0]

    def assess(max_count_params):
        with CaptureQueriesContext(connection) as queries:
            _decision, verdicts, _us = evaluate(
                "checkout", context(learner), [rule("orders_per_learner", max_count_params)]
            )
        return verdicts[0]["hit"], len(queries)

    before = prepared_statements()
    assert assess(params) == (True, 1)
    assert assess(params) == (True, 1)
    assert assess(params_of_none) == (False, 1)  # the same statement, other limits
    assert prepared_statements() - before == (1 if prepared else 0)


def _every_kind_s_aggregates(ctx) -> dict:
    """The aggregates of one rule of every kind that declares some (the bench's rule set)."""
    rules = {
        "orders_per_learner": {"window_minutes": 60, "max_count": 5},
        "failed_payments_per_learner": {"window_minutes": 60, "max_count": 5},
        "learner_daily_total": {"amount": 500_000},
        "orders_per_client": {"by": "ip", "window_minutes": 60, "max_count": 5},
        "accounts_per_client": {"by": "device", "window_minutes": 60, "max_count": 5},
        "coupon_accounts_per_client": {"by": "device", "window_minutes": 60, "max_count": 5},
        "refund_ratio": {"min_orders": 1, "max_ratio": "0.5"},
    }
    aggregates = {}
    for kind, params in rules.items():
        aggregates.update(KINDS[kind].aggregates(KINDS[kind].clean_params(params), ctx))
    return aggregates


@pytest.mark.postgres
def test_the_learners_row_in_raw_sql_is_the_orms_row(learner, sandbox):
    """The raw statement (PostgreSQL's hot path) reads what the ORM's query of the same
    aggregates reads (the path of other databases), every kind's aggregates counting
    something: orders, a paid one, a failed payment, from the same IP address and device."""
    from payments.services import payment_start
    from riskcontrol.rules import Facts

    other = UserFactory()
    client = ClientInfo(ip="10.1.2.3", device_id="dev-1")
    paid, failed, _others = (
        order_checkout(learner=buyer, course_slug=CourseFactory().slug, client=client).order
        for buyer in (learner, learner, other)
    )
    sandbox.pay(payment_start(learner=learner, order_no=paid.order_no, channel="sandbox"))
    payment = payment_start(learner=learner, order_no=failed.order_no, channel="sandbox")
    sandbox.pay(payment, event_type="TRADE.FAILED", state="PAYERROR")
    ctx = context(learner, ip="10.1.2.3", device_id="dev-1", coupon="")
    aggregates = _every_kind_s_aggregates(ctx)
    raw, orm = Facts(ctx, aggregates)._learner_in_raw_sql(), Facts(ctx, aggregates)._learner_by_orm()

    read = {name: (getattr(raw, name), getattr(orm, name)) for name in aggregates}
    assert all(by_raw == by_orm for by_raw, by_orm in read.values()), read
    assert (raw.email, raw.date_joined) == (orm.email, orm.date_joined)
    assert read["orders_in_60m"][0] == 2 and read["failed_in_60m"][0] == 1
    assert read["paid_today"][0] == paid.total and read["paid_orders"][0] == 1
    assert read["orders_per_client_ip_60m"][0] == 3 and read["accounts_per_client_device_60m"][0] == 1


@pytest.mark.postgres
def test_small_and_large_learner_ids_share_one_prepared_statement(db):
    """psycopg types a Python int by its size (smallint, integer, bigint): the learner's id
    goes as bigint, so learners below and above 32767 use the same prepared statement."""
    from django.db import connection

    small, large = UserFactory(pk=30_001), UserFactory(pk=40_001)

    def prepared_statements() -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_prepared_statements")
            return cursor.fetchone()[0]

    params = KINDS["orders_per_learner"].clean_params({"window_minutes": 60, "max_count": 1})
    rules = [rule("orders_per_learner", params)]
    before = prepared_statements()
    for buyer in (small, large, small):
        evaluate("checkout", context(buyer), rules)
    assert prepared_statements() - before == 1
