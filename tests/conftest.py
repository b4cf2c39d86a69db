import copy
import os
import secrets

import pytest
from django.contrib.auth.models import Group
from django.db import connection

from tests.factories import CourseFactory, LessonFactory, UserFactory
from tests.ledger_checks import assert_ledger_consistent
from tests.sandbox import SandboxDriver
from tests.settings import CLOSED_LOOPBACK_URL


@pytest.fixture(autouse=True)
def _require_postgres(request):
    """``@pytest.mark.postgres`` tests skip without PostgreSQL, but never in CI, where a
    skipped PostgreSQL test would hide that the row-lock code was not exercised.

    Asked per test (the marker may sit on one parameter of a parametrized test); adding a
    fixture name per item at collection would add it to every parameter of the test,
    since they share one list of names."""
    if request.node.get_closest_marker("postgres") is None:
        return
    with request.getfixturevalue("django_db_blocker").unblock():
        vendor = connection.vendor
    if vendor != "postgresql":
        message = "needs PostgreSQL (set DATABASE_URL, or run bin/test with PostgreSQL up)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run these tests")
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Throttle counters and cached values must not leak from one test to the next."""
    from django.core.cache import cache

    from riskcontrol.engine import forget_rules

    cache.clear()
    forget_rules()  # the rules each process keeps for two seconds
    yield
    cache.clear()
    forget_rules()


@pytest.fixture(autouse=True)
def _ledger_consistent_after_test(request):
    """Every test that used the database ends with a consistent journal."""
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or bool(
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    uses_db = marker is not None or transactional or "db" in request.fixturenames
    if uses_db:  # depend on the database fixture, so this check runs before it is torn down
        request.getfixturevalue("transactional_db" if transactional else "db")
    yield
    if uses_db:
        assert_ledger_consistent()


@pytest.fixture
def staff(db):
    """A platform staff user in a role group (the groups come from post_migrate)."""

    def make(role, username=None):
        user = UserFactory(username=username or f"{role}-{secrets.token_hex(3)}", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        return user

    return make


@pytest.fixture
def learner(db):
    return UserFactory()


@pytest.fixture
def course(db):
    course = CourseFactory(price=9900)
    LessonFactory(course=course, title="Welcome", is_preview=True)
    LessonFactory(course=course, title="The paid part")
    return course


@pytest.fixture
def sandbox(db, settings):
    """Drives the sandbox gateway's side in-process: signs notifications with the
    gateway's key and posts them to kpay's webhook through the test client."""
    return SandboxDriver(settings)


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def live_simulators(live_server, settings):
    """Point every simulator-backed gateway, and kpay's public URL (where simulators send
    notifications), at the live server: calls travel over real HTTP on loopback."""
    gateways = copy.deepcopy(settings.KPAY_GATEWAYS)
    for config in gateways.values():
        options = config.get("OPTIONS", {})
        for name, value in list(options.items()):
            if isinstance(value, str) and value.startswith(CLOSED_LOOPBACK_URL):
                options[name] = live_server.url + value[len(CLOSED_LOOPBACK_URL) :]
    settings.KPAY_GATEWAYS = gateways
    settings.KPAY_PUBLIC_URL = live_server.url
    return live_server
