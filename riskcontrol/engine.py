"""Evaluating the enabled rules for one purchase and deciding.

Block beats review beats allow; an ``allow`` hit (an allowlist) wins over review but
never over block; monitor-only rules are recorded and never decide. Rules are read
from the cache (refreshed when one changes, at most a minute stale elsewhere), so
an assessment costs no SQL beyond what its counting rules ask; each process keeps what
it read for ``RULES_LOCAL_SECONDS`` (2 s) more, so a flash sale's checkouts and
notifications do not each ask the cache (a round trip to Redis and a new client: about
a tenth of a notification's CPU). A rule's change thus reaches every process within
two seconds, and the process that made it at once.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .models import Decision, Rule
from .rules import KINDS, Facts

logger = logging.getLogger(__name__)

RULES_CACHE_KEY = "riskcontrol:rules:v1"
RULES_CACHE_SECONDS = 60
RULES_LOCAL_SECONDS = 2.0
_local: tuple[float, list[dict]] | None = None  # (read at, rules): this process's copy


def enabled_rules() -> list[dict]:
    global _local
    now = time.monotonic()
    if _local is not None and now - _local[0] < RULES_LOCAL_SECONDS:
        return _local[1]
    rules = cache.get(RULES_CACHE_KEY)
    if rules is None:
        rules = list(
            Rule.objects.filter(enabled=True)
            .order_by("priority", "pk")
            .values("pk", "name", "kind", "params", "action", "monitor_only")
        )
        cache.set(RULES_CACHE_KEY, rules, RULES_CACHE_SECONDS)
    _local = (now, rules)
    return rules


def forget_rules() -> None:
    """Drop this process's copy of the rules (a change, or a test's fresh cache)."""
    global _local
    _local = None


@receiver([post_save, post_delete], sender=Rule, dispatch_uid="riskcontrol.rules_changed")
def _rules_changed(**kwargs):
    forget_rules()
    cache.delete(RULES_CACHE_KEY)


def decide(verdicts: list[dict]) -> str:
    enforced = {v["action"] for v in verdicts if v["hit"] and not v["monitor_only"]}
    for decision in (Decision.BLOCK, Decision.ALLOW, Decision.REVIEW):
        if decision in enforced:
            return decision.value
    return Decision.ALLOW.value


def evaluate(stage: str, context, rules: list[dict]) -> tuple[str, list[dict], int]:
    """(decision, verdicts, microseconds) of ``rules`` for ``context`` at ``stage``.

    A rule that fails (a bug, a database error) is recorded as an error and does not
    decide: one broken rule must not stop every purchase.
    """
    started = time.perf_counter_ns()
    applicable = [
        (rule, KINDS[rule["kind"]])
        for rule in rules
        if rule["kind"] in KINDS and stage in KINDS[rule["kind"]].stages
    ]
    aggregates = {}
    for rule, kind in applicable:
        try:
            aggregates.update(kind.aggregates(rule["params"], context))
        except Exception:  # a broken rule's parameters: its hit() will fail and be recorded
            logger.exception("risk rule %r: cannot build its aggregates", rule["name"])
    facts = Facts(context, aggregates)
    verdicts = []
    for rule, kind in applicable:
        verdict = {
            "rule": rule["name"],
            "kind": rule["kind"],
            "action": rule["action"],
            "monitor_only": rule["monitor_only"],
        }
        try:
            reason = kind.hit(rule["params"], context, facts)
        except Exception:
            logger.exception("risk rule %r failed", rule["name"])
            verdict.update(hit=False, why="", error=True)
        else:
            verdict.update(hit=reason is not None, why=reason.english() if reason else "")
            if reason is not None:
                verdict["reason"] = reason.as_json()
        verdicts.append(verdict)
    return decide(verdicts), verdicts, (time.perf_counter_ns() - started) // 1000
