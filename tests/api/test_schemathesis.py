"""schemathesis against the live schema: every operation of /api/v1/schema/, called
in-process through the WSGI app, answers as the schema says (no 5xx it does not declare,
only documented statuses, bodies matching their schemas, schema-valid data accepted,
invalid data refused).

Bounded and deterministic for CI: derandomized generation (Hypothesis's fixed seed, no
example database) and ``MAX_EXAMPLES`` requests per operation, valid and invalid ones.
Nothing leaves the machine: the WSGI app is called in-process, and the gateways point
at a closed loopback port (tests/settings.py), so starting a WeChat Pay or Alipay payment
answers 503 ``gateway_unavailable``, a documented answer.

The learner authenticates with an API token (no session, no cookies); the learner owns an
open order and a paid one, and most schema-valid requests use their numbers and real
courses' slugs (:func:`with_learner_data`), so the happy paths are exercised too.
"""

import contextlib

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, connections
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from knox.models import AuthToken
from schemathesis import GenerationMode

from accounts import tokens
from core.http import ClientInfo
from orders import services as orders_services
from orders.models import Order
from payments import services as payment_services
from tests.factories import CouponFactory, CourseFactory, UserFactory
from tests.memberships.helpers import PlanFactory

MAX_EXAMPLES = 50

CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"deterministic": True, "database": "none"},
        "operations": [
            {
                # A schema-valid username and password are not valid credentials: a wrong
                # pair is refused with 400 `invalid` (as DRF's token views do, and as the
                # schema documents), which this check would read as valid data refused.
                "include-path": "/api/v1/auth/token/",
                "include-method": "POST",
                "checks": {"positive_data_acceptance": {"enabled": False}},
            },
            {
                # The gateways point at a closed loopback port here, so WeChat Pay and
                # Alipay cannot be reached: 503 `gateway_unavailable` is the right answer
                # (documented), and the only 5xx this operation may give.
                "include-path": "/api/v1/orders/{order_no}/pay/",
                "include-method": "POST",
                "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "503"]}},
            },
        ],
    }
)


class LearnerToken:
    """The learner's API token; a fresh one when an operation (log out, revoke) revoked it.
    Also what the learner owns, for requests that should find it."""

    def __init__(self, user, *, orders, courses, code_coupon, claimable_coupon, plans=()):
        self.user = user
        self.orders = orders
        self.courses = courses
        self.plans = list(plans)
        self.code_coupon = code_coupon
        self.claimable_coupon = claimable_coupon
        self.record, self.secret = tokens.issue_token(user)

    def header(self) -> dict:
        if not AuthToken.objects.filter(pk=self.record.pk).exists():
            self.record, self.secret = tokens.issue_token(self.user)
        return {"Authorization": f"Token {self.secret}"}


@pytest.fixture
def learner_token(db, sandbox):
    """A learner with an open order and a paid one, and their API token."""
    learner = UserFactory()
    courses = [CourseFactory(price=9900), CourseFactory(price=19900), CourseFactory(price=100)]
    client = ClientInfo(ip="127.0.0.1")
    open_order = orders_services.order_checkout(
        learner=learner, course_slug=courses[0].slug, client=client
    ).order
    paid = orders_services.order_checkout(learner=learner, course_slug=courses[1].slug, client=client).order
    payment = payment_services.payment_start(
        learner=learner, order_no=paid.order_no, channel="sandbox", client=client
    )
    assert sandbox.pay(payment).status_code == 204
    paid.refresh_from_db()
    assert paid.status == Order.Status.FULFILLED
    orders = [open_order.order_no, paid.order_no]  # in this order: order numbers are random
    return LearnerToken(
        learner,
        orders=orders,
        courses=[c.slug for c in courses],
        code_coupon=CouponFactory(),  # to use at checkout by its code
        claimable_coupon=CouponFactory(code=""),  # to claim into the wallet
        plans=[
            PlanFactory(merchant=courses[0].merchant).slug,
            PlanFactory(period="days", period_days=7).slug,
        ],
    )


def with_learner_data(case, learner_token, pick: int) -> None:
    """Point a schema-valid request at the learner's own orders and real courses (random
    order numbers and slugs only ever find nothing), so the happy paths answer too."""
    if case.meta is None or case.meta.generation.mode is not GenerationMode.POSITIVE:
        return  # a request meant to be invalid stays as generated
    if case.path_parameters:
        if "order_no" in case.path_parameters:
            case.path_parameters["order_no"] = learner_token.orders[pick % len(learner_token.orders)]
        if "slug" in case.path_parameters:
            slugs = learner_token.plans if "/memberships/" in case.path else learner_token.courses
            case.path_parameters["slug"] = slugs[pick % len(slugs)]
    if isinstance(case.body, dict):
        if isinstance(case.body.get("course"), str):
            case.body["course"] = learner_token.courses[pick % len(learner_token.courses)]
        coupon = case.body.get("coupon")
        if isinstance(coupon, int) and not isinstance(coupon, bool):  # claiming: the coupon's id
            case.body["coupon"] = learner_token.claimable_coupon.pk
        elif isinstance(coupon, str) and pick % 2:  # checkout: its code
            case.body["coupon"] = learner_token.code_coupon.code


# Loaded from the app itself at collection, to list its operations (the schema view
# reads no database); any connection is closed anyway, so each test opens its own.
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application(), config=CONFIG)
connections.close_all()


@contextlib.contextmanager
def _connection_kept():
    """The WSGI handler closes the database connection when a request starts and ends
    (``close_old_connections``); inside a test's transaction it must stay open, as Django's
    test client arranges for its own requests (and undoes after each)."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


OPERATIONS = [result.ok() for result in schema.get_all_operations()]


@pytest.mark.postgres
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_api_answers_as_its_schema_says(operation, learner_token):
    """Schema-valid requests and schema-invalid ones, each answered as the schema says."""
    cases = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    # The learner's data is made once per operation and shared by its examples, on purpose.
    @settings(
        max_examples=MAX_EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(case=cases, real=st.integers(min_value=0, max_value=5))
    def call(case, real):
        if real:  # about five times in six
            with_learner_data(case, learner_token, real)
        headers = learner_token.header()
        with _connection_kept():
            case.call_and_validate(headers=headers)

    call()
