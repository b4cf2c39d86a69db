"""Long work runs out of the request: reconciling a bill and back-testing rules are
background jobs (core.jobs) with a state, progress and a result; the admin shows a progress
page that polls a JSON status view, then the result page."""

import io

import pytest
from django.urls import reverse
from django.utils import timezone

from core import jobs
from core.models import Job
from courses import roles
from orders.services import order_checkout
from reconciliation import tasks as reconciliation_tasks
from reconciliation.matching import BILL_TIMEZONE
from reconciliation.models import ReconciliationRun
from riskcontrol import tasks as riskcontrol_tasks
from riskcontrol.models import Rule
from riskcontrol.services import rule_save
from tests.factories import CourseFactory, UserFactory
from tests.reconciliation.bills import wechat_bill, wechat_payment
from tests.reconciliation.conftest import paid, txn_id_for

pytestmark = pytest.mark.django_db

RECONCILE = reverse("admin:reconciliation_run_new")


@pytest.fixture
def today():
    return timezone.now().astimezone(BILL_TIMEZONE).date()


@pytest.fixture
def finance(staff):
    return staff(roles.FINANCE, "finance-fay")


@pytest.fixture
def sent(monkeypatch):
    """Tasks sent by core.jobs, kept instead of run: what a broker would hold."""
    queue = []
    monkeypatch.setattr(jobs, "enqueue_on_commit", lambda name, **kwargs: queue.append((name, kwargs)))
    return queue


def status(client, job):
    response = client.get(reverse("admin:core_job_status", args=[job.pk]))
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    return response.json()


def bill_upload(payment):
    data = wechat_bill([wechat_payment(payment.payment_no, txn_id_for(payment), payment.amount)])
    file = io.BytesIO(data)
    file.name = "bill.csv"
    return file


def test_reconciling_returns_at_once_and_the_job_runs_in_the_worker(client, finance, today, sent):
    payment = paid(CourseFactory(price=9900))
    client.force_login(finance)

    response = client.post(
        RECONCILE, {"gateway": "wechatpay", "bill_date": today.isoformat(), "file": bill_upload(payment)}
    )

    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:core_job_progress", args=[job.pk]
    )
    assert sent == [("reconciliation.tasks.reconcile_bill_job", {"job_id": job.pk})]
    assert not ReconciliationRun.objects.exists()  # nothing ran in the request
    assert (job.state, job.created_by, job.params["gateway"]) == (Job.State.QUEUED, finance, "wechatpay")
    queued = status(client, job)
    assert (queued["state"], queued["finished"], queued["percent"], queued["result_url"]) == (
        "queued",
        False,
        None,
        None,
    )
    page = client.get(response["Location"])
    assert page.status_code == 200 and b"<progress" in page.content and b"job-progress.js" in page.content

    reconciliation_tasks.reconcile_bill_job(job.pk)  # the worker

    job.refresh_from_db()
    run = ReconciliationRun.objects.get()
    assert job.state == Job.State.SUCCEEDED and job.result["run_id"] == run.pk and run.matched == 1
    assert job.started_at and job.finished_at and job.done == job.total > 0  # progress: the file, read
    done = status(client, job)
    run_page = reverse("admin:reconciliation_reconciliationrun_change", args=[run.pk])
    assert (done["state"], done["finished"], done["percent"], done["result_url"]) == (
        "succeeded",
        True,
        100,
        run_page,
    )
    assert client.get(response["Location"])["Location"] == run_page  # the progress page moves on

    reconciliation_tasks.reconcile_bill_job(job.pk)  # delivered twice: run once
    assert ReconciliationRun.objects.count() == 1


def test_a_bill_already_being_reconciled_is_refused_at_once(client, finance, today, sent):
    client.force_login(finance)
    client.post(RECONCILE, {"gateway": "wechatpay", "bill_date": today.isoformat()})
    again = client.post(
        RECONCILE, {"gateway": "wechatpay", "bill_date": today.isoformat()}, headers={"accept-language": "en"}
    )
    assert again.status_code == 200 and "being reconciled" in again.content.decode()
    assert Job.objects.count() == 1


def test_a_job_is_seen_by_who_started_it(client, finance, staff, today, sent):
    client.force_login(finance)
    client.post(RECONCILE, {"gateway": "wechatpay", "bill_date": today.isoformat()})
    job = Job.objects.get()
    other = staff(roles.FINANCE, "finance-fred")
    client.force_login(other)
    assert client.get(reverse("admin:core_job_status", args=[job.pk])).status_code == 403
    assert client.get(reverse("admin:core_job_progress", args=[job.pk])).status_code == 403
    assert job not in client.get(reverse("admin:core_job_changelist")).context["cl"].result_list
    client.force_login(finance)
    assert job in client.get(reverse("admin:core_job_changelist")).context["cl"].result_list


def test_a_failing_job_records_why_and_the_progress_page_says_so(admin_user, client):
    def work(job, progress):
        progress(3, 10, "halfway")
        raise ValueError("the bill is on fire")

    job = jobs.job_create(kind="test.failing", title="Doomed", actor=admin_user, params={}, task="x.y")
    jobs.job_run(job.pk, work)

    job.refresh_from_db()
    assert (job.state, job.error, job.done, job.total) == (
        Job.State.FAILED,
        "ValueError: the bill is on fire",
        3,
        10,
    )
    client.force_login(admin_user)
    page = client.get(reverse("admin:core_job_progress", args=[job.pk]))
    assert page.status_code == 200 and "the bill is on fire" in page.content.decode()


def test_back_tests_run_as_jobs_and_show_their_result(admin_client, admin_user, learner, sent):
    cheap, dear = CourseFactory(price=1000), CourseFactory(price=50000)
    order_checkout(learner=learner, course_slug=cheap.slug)
    dear_order = order_checkout(learner=UserFactory(), course_slug=dear.slug).order
    rule = rule_save(
        rule=Rule(name="dear", kind="amount_above", params={"amount": 20000}, action="review"),
        actor=admin_user,
    )

    response = admin_client.post(
        reverse("admin:riskcontrol_rule_changelist"),
        {"action": "backtest_30_days", "_selected_action": [rule.pk]},
    )
    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:core_job_progress", args=[job.pk]
    )
    assert sent == [("riskcontrol.tasks.backtest_job", {"job_id": job.pk})]

    riskcontrol_tasks.backtest_job(job.pk)

    job.refresh_from_db()
    assert job.state == Job.State.SUCCEEDED
    (result,) = job.result["rules"]
    assert (result["checked"], result["hits"], result["hit_order_nos"]) == (2, 1, [dear_order.order_no])
    page = admin_client.get(admin_client.get(response["Location"])["Location"])
    assert page.status_code == 200 and dear_order.order_no in page.content.decode()

    # and from the rule's own page: POST only
    backtest = reverse("admin:riskcontrol_rule_backtest", args=[rule.pk])
    assert (
        backtest
        in admin_client.get(reverse("admin:riskcontrol_rule_change", args=[rule.pk])).content.decode()
    )
    assert admin_client.get(backtest).status_code == 302 and Job.objects.count() == 1
    assert admin_client.post(backtest).status_code == 302 and Job.objects.count() == 2
