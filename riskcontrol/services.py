"""Writes to rules, each audited (who, when, before, after)."""

from django.db import transaction

from .models import Rule, RuleChange


def rule_save(*, rule: Rule, actor) -> Rule:
    """Validate and save a new or changed rule, and record the change."""
    rule.full_clean()
    with transaction.atomic():
        before = Rule.objects.filter(pk=rule.pk).first() if rule.pk else None
        rule.save()
        RuleChange.objects.create(
            rule=rule,
            rule_name=rule.name,
            change=RuleChange.Change.UPDATED if before else RuleChange.Change.CREATED,
            actor=actor,
            before=before.snapshot() if before else None,
            after=rule.snapshot(),
        )
    return rule


def rule_delete(*, rule: Rule, actor) -> None:
    with transaction.atomic():
        RuleChange.objects.create(
            rule=None,
            rule_name=rule.name,
            change=RuleChange.Change.DELETED,
            actor=actor,
            before=rule.snapshot(),
            after=None,
        )
        rule.delete()
