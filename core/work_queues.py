"""Work queues on the back office's home page: what waits for the person logged in.

Each app's admin registers a function of the request that returns a :class:`WorkQueue`
(or None when the user has nothing to do with it): refunds to approve, orders held for a
risk review, payouts to decide, differences to resolve … The admin site shows them above
the list of models, so support, finance and risk staff start from their work, not from
a list of tables. One query a queue.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.http import HttpRequest


@dataclass(frozen=True)
class WorkQueue:
    label: str
    count: int
    url: str
    hint: str = ""  # one line under the figure: what to do there

    @property
    def waiting(self) -> bool:
        return self.count > 0


QueueFunction = Callable[[HttpRequest], WorkQueue | None]
_QUEUES: list[tuple[int, str, QueueFunction]] = []


def register_work_queue(order: int = 100):
    """Decorator: ``function(request) -> WorkQueue | None`` shown on the home page, sorted by
    ``order`` (then by name). Registering the same function again replaces it."""

    def register(function: QueueFunction) -> QueueFunction:
        key = f"{function.__module__}.{function.__qualname__}"
        _QUEUES[:] = [entry for entry in _QUEUES if entry[1] != key]
        _QUEUES.append((order, key, function))
        _QUEUES.sort(key=lambda entry: entry[:2])
        return function

    return register


def work_queues(request: HttpRequest) -> list[WorkQueue]:
    """The queues ``request.user`` works on, in order."""
    queues = (function(request) for _order, _key, function in _QUEUES)
    return [queue for queue in queues if queue is not None]
