"""Moving runs and differences along their life cycles, each move recorded in their
history (``core.transitions``): one way for the services and for the matcher's writer.

The callers lock the rows (``reconciliation.locks``) and hold the transaction.
"""

from collections.abc import Callable, Iterable

from core.transitions import apply_transition

from .models import Difference, DifferenceStatusChange, ReconciliationRun, ReconciliationRunStatusChange

RUN_FIELDS = ["status", "error", "finished_at"]
DIFFERENCE_FIELDS = ["status", "resolved_by", "resolved_at", "resolution_note"]


def run_started(run: ReconciliationRun, *, actor=None) -> ReconciliationRunStatusChange:
    """The first row of a new run's history."""
    return ReconciliationRunStatusChange.objects.create(
        reconciliationrun=run,
        from_status="",
        to_status=run.status,
        transition="start",
        actor=actor,
        created_at=run.started_at,
    )


def run_transition(run: ReconciliationRun, name: str, *, at, reason: str = "", **kwargs) -> bool:
    """Apply transition ``name`` to a run and record it; the caller saves the run.
    False, changing nothing, when the run is not in a state to take it."""
    change = apply_transition(
        run, name, history_model=ReconciliationRunStatusChange, reason=reason, at=at, **kwargs
    )
    if change is None:
        return False
    change.save()
    return True


def differences_transition(
    differences: Iterable[Difference],
    choose: Callable[[Difference], tuple[str, dict] | None],
    *,
    at,
    actor=None,
) -> int:
    """For each (locked) difference, ``choose`` gives the transition to apply and its
    arguments (or None); those applied are saved, with their history, in bulk. Returns
    how many changed."""
    changed, history = [], []
    for difference in differences:
        chosen = choose(difference)
        if chosen is None:
            continue
        name, arguments = chosen
        reason = arguments.get("note", "")
        change = apply_transition(
            difference,
            name,
            history_model=DifferenceStatusChange,
            actor=actor,
            reason=reason,
            at=at,
            **arguments,
        )
        if change is not None:
            changed.append(difference)
            history.append(change)
    if changed:
        Difference.objects.bulk_update(changed, DIFFERENCE_FIELDS, batch_size=1000)
        DifferenceStatusChange.objects.bulk_create(history, batch_size=1000)
    return len(changed)
