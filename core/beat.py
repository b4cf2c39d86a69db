"""Exactly one Celery beat in a deployment: a lease in the shared cache (Redis).

A beat that starts (``beat_init``) takes the lease ``kpay:beat:leader`` before it schedules
anything; while another beat holds it, it waits as a standby and takes over when the
holder stops (it gives the lease back) or dies (the lease runs out after ``LEASE``
seconds). The holder renews the lease every third of it; a holder that finds the lease
taken by another beat (it could not renew in time) stops, so two beats never schedule
side by side for longer than a lease. With a per-process cache (development) the lease
guards nothing and costs nothing.
"""

import atexit
import logging
import os
import socket
import threading
import time
import uuid

from celery import signals
from django.core.cache import cache

logger = logging.getLogger(__name__)

LOCK_KEY = "kpay:beat:leader"
LEASE = 60  # seconds
POLL = 5.0  # seconds between tries of a standby


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def lease_take(owner: str, *, lease: int = LEASE) -> bool:
    """Take the lease if nobody holds it (or ``owner`` already does)."""
    return cache.add(LOCK_KEY, owner, lease) or lease_renew(owner, lease=lease)


def lease_renew(owner: str, *, lease: int = LEASE) -> bool:
    if cache.get(LOCK_KEY) != owner:
        return False
    cache.touch(LOCK_KEY, lease)
    return True


def lease_release(owner: str) -> None:
    if cache.get(LOCK_KEY) == owner:
        cache.delete(LOCK_KEY)


def lease_wait(
    owner: str, *, lease: int = LEASE, poll: float = POLL, give_up_after: float | None = None
) -> bool:
    """Take the lease, waiting as long as another beat holds it (or ``give_up_after`` s)."""
    started = time.monotonic()
    told = False
    while not lease_take(owner, lease=lease):
        if not told:
            logger.warning("another beat (%s) is running: this one waits as its standby", cache.get(LOCK_KEY))
            told = True
        if give_up_after is not None and time.monotonic() - started >= give_up_after:
            return False
        time.sleep(poll)
    return True


class _Renewer(threading.Thread):
    def __init__(self, owner: str, service, lease: int):
        super().__init__(name="kpay-beat-lease", daemon=True)
        self.owner, self.service, self.lease = owner, service, lease
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.wait(self.lease / 3):
            try:
                renewed = lease_renew(self.owner, lease=self.lease) or lease_take(
                    self.owner, lease=self.lease
                )
            except Exception:  # the cache is away: keep scheduling, try again
                logger.exception("beat: could not renew its lease")
                continue
            if not renewed:
                logger.error("beat: another beat took the lease; this one stops")
                self.service.stop()
                return


@signals.beat_init.connect(dispatch_uid="kpay.beat.singleton")
def _be_the_only_beat(sender=None, **kwargs):
    owner = new_owner()
    lease_wait(owner)
    logger.info("beat: holding the lease as %s", owner)
    renewer = _Renewer(owner, sender, LEASE)
    renewer.start()

    def _give_back():
        renewer.stopped.set()
        try:
            lease_release(owner)
        except Exception:  # the lease runs out by itself
            logger.warning("beat: could not give the lease back; it runs out in %d s", LEASE)

    atexit.register(_give_back)
