"""core.tasks (tasks sent by name after commit) and core.risk (the assessor behind a setting)."""

import pathlib
import re

import pytest
from celery import current_app, shared_task
from django.db import transaction

from core import risk
from core.tasks import enqueue_on_commit, task_send

SENT = []
SENT_BY_NAME = re.compile(r"""(?:enqueue_on_commit|task_send)\(\s*["']([\w.]+)["']""")


@shared_task(name="tests.core.record")
def record(value):
    SENT.append(value)


@pytest.fixture(autouse=True)
def _clear():
    SENT.clear()


@pytest.mark.django_db(transaction=True)
def test_a_task_is_sent_only_once_its_transaction_commits():
    with transaction.atomic():
        enqueue_on_commit("tests.core.record", value=1)
        assert SENT == []
    assert SENT == [1]


@pytest.mark.django_db(transaction=True)
def test_nothing_is_sent_when_the_transaction_rolls_back():
    with pytest.raises(RuntimeError), transaction.atomic():
        enqueue_on_commit("tests.core.record", value=2)
        raise RuntimeError("rolled back")
    assert SENT == []


def test_every_task_the_product_sends_by_name_exists():
    """A misspelt name would only fail when the task is due: resolve them all now."""
    root = pathlib.Path(__file__).resolve().parents[2]
    names = set()
    for path in root.glob("*/**/*.py"):
        if ".venv" in path.parts or "tests" in path.parts:
            continue
        names |= set(SENT_BY_NAME.findall(path.read_text()))
    current_app.loader.import_default_modules()
    assert names, "the product sends no task by name?"
    assert names <= set(current_app.tasks), names - set(current_app.tasks)


def test_an_unknown_task_name_is_a_bug_not_a_silent_no_op():
    with pytest.raises(KeyError):
        task_send("tests.core.no_such_task")


def _always_block(stage, context):
    return risk.RiskDecision(decision="block", verdicts=[{"stage": stage}])


def test_the_risk_assessor_is_the_one_settings_name(settings):
    context = risk.CheckoutContext(learner_id=1, merchant_id=2, course_ids=(3,), amount=100, currency="CNY")
    settings.KPAY_RISK_ASSESSOR = f"{__name__}._always_block"
    decision = risk.assess_checkout(context)
    assert decision.blocked and decision.verdicts == [{"stage": "checkout"}]
    assert risk.assess_payment(context).verdicts == [{"stage": "payment"}]
    settings.KPAY_RISK_ASSESSOR = "riskcontrol.interface.assess"
    assert risk.assessor().__module__ == "riskcontrol.interface"
