"""Exactly one beat: a second one waits as a standby and takes over from the first."""

import threading
import time

import pytest

from core import beat


@pytest.fixture
def lease(settings):
    """A cache of this process alone, empty."""
    from django.core.cache import cache

    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "beat"}
    }
    cache.clear()
    yield
    cache.clear()


def test_one_holder_at_a_time(lease):
    first, second = beat.new_owner(), beat.new_owner()
    assert beat.lease_take(first) and beat.lease_take(first)  # taking it again renews it
    assert not beat.lease_take(second)
    assert not beat.lease_wait(second, poll=0.05, give_up_after=0.2)
    assert not beat.lease_renew(second)
    beat.lease_release(second)  # not its lease: nothing happens
    assert beat.lease_renew(first)
    beat.lease_release(first)
    assert beat.lease_take(second)


def test_a_standby_takes_over_when_the_holder_dies(lease):
    dead, standby = beat.new_owner(), beat.new_owner()
    assert beat.lease_take(dead, lease=1)  # then it is SIGKILLed: it never renews
    started = time.monotonic()
    assert beat.lease_wait(standby, lease=1, poll=0.1, give_up_after=5)
    assert 0.5 < time.monotonic() - started < 5


def test_a_holder_that_lost_its_lease_stops(lease):
    class Service:
        stopped = threading.Event()

        def stop(self):
            self.stopped.set()

    holder, usurper = beat.new_owner(), beat.new_owner()
    assert beat.lease_take(holder, lease=3)
    renewer = beat._Renewer(holder, Service(), lease=3)
    renewer.start()
    beat.lease_release(holder)
    assert beat.lease_take(usurper, lease=3)  # took it while the holder could not renew
    assert Service.stopped.wait(5)
    renewer.join(1)
