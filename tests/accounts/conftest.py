import pytest

from tests.factories import UserFactory

PASSWORD = "pw-learner-123"


@pytest.fixture
def staff_user(db):
    return UserFactory(username="support-staff", is_staff=True)


@pytest.fixture
def loose_token_throttle(monkeypatch):
    """The token endpoint's per-IP throttle (10/min) out of the way, so a test sees the
    per-username lockout behind it."""
    from core.api.throttling import ClientIpScopedRateThrottle

    monkeypatch.setattr(ClientIpScopedRateThrottle, "THROTTLE_RATES", {"auth": "10000/min"})
