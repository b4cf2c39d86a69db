"""Reconciliation in the back office: finance runs and uploads bills and works the
differences queue; support may look; merchants see none of it."""

import csv
import io
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.storage import storages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape

from core.models import Job
from courses import roles
from reconciliation.models import Difference, ReconciliationRun
from tests.factories import MerchantStaffFactory, UserFactory

from .bills import wechat_bill, wechat_payment
from .conftest import paid, txn_id_for
from .test_matching import upload

pytestmark = pytest.mark.django_db

RUNS = reverse("admin:reconciliation_reconciliationrun_changelist")
DIFFERENCES = reverse("admin:reconciliation_difference_changelist")
RECONCILE = reverse("admin:reconciliation_run_new")


@pytest.fixture
def merchant_staff(course):
    user = MerchantStaffFactory(merchant=course.merchant)
    user.groups.add(Group.objects.get(name=roles.MERCHANT))
    return user


@pytest.fixture
def with_differences(course, today, gateway_answers):
    """A run with two open differences: a payment missing from the bill, an unknown trade."""
    ok, _missing = paid(course), paid(course)
    rows = [
        wechat_payment(ok.payment_no, txn_id_for(ok), ok.amount),
        wechat_payment("PNOSUCH", "4200000009", 100),
    ]
    return upload("wechatpay", today, wechat_bill(rows))


def bill_file(data: bytes, name="bill.csv"):
    file = io.BytesIO(data)
    file.name = name
    return file


def test_finance_uploads_a_bill_and_lands_on_its_run(
    client, finance, course, today, django_capture_on_commit_callbacks
):
    payment = paid(course)
    client.force_login(finance)
    assert RECONCILE in client.get(RUNS).content.decode()  # the "Reconcile a bill" button
    page = client.get(RECONCILE)
    assert page.status_code == 200 and "wechatpay" in page.content.decode()

    data = wechat_bill(
        [wechat_payment(payment.payment_no, txn_id_for(payment), payment.amount)], compress=True
    )
    with django_capture_on_commit_callbacks(execute=True):  # the worker (eager) runs the job
        response = client.post(
            RECONCILE,
            {"gateway": "wechatpay", "bill_date": today.isoformat(), "file": bill_file(data, "b.csv.gz")},
        )

    job = Job.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "admin:core_job_progress", args=[job.pk]
    )
    run = ReconciliationRun.objects.get()
    assert job.state == Job.State.SUCCEEDED and job.result["run_id"] == run.pk
    assert (run.status, run.source, run.uploaded_by, run.file_name) == (
        "succeeded",
        "uploaded",
        finance,
        "b.csv.gz",
    )
    assert run.matched == 1 and run.file_size == len(data)
    progress = client.get(response["Location"])  # a finished job's page is its result's
    assert progress.status_code == 302 and progress["Location"].endswith(f"/{run.pk}/change/")
    assert client.get(progress["Location"]).status_code == 200
    assert not storages["private"].exists(job.params["file"])  # the uploaded bill is not kept


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"just,some,csv\r\n1,2,3\r\n", "Not a WeChat Pay trade bill"),
        (b"", "The submitted file is empty."),
    ],
)
def test_a_bad_file_is_a_form_error_and_starts_no_run(client, finance, today, data, error):
    client.force_login(finance)
    response = client.post(
        RECONCILE, {"gateway": "wechatpay", "bill_date": today.isoformat(), "file": bill_file(data)}
    )
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not ReconciliationRun.objects.exists()


def test_a_future_day_and_an_unknown_gateway_are_form_errors(client, finance, today):
    from datetime import timedelta

    client.force_login(finance)
    response = client.post(
        RECONCILE, {"gateway": "sandbox", "bill_date": (today + timedelta(days=1)).isoformat()}
    )
    form = response.context["form"]
    assert set(form.errors) == {"gateway", "bill_date"}
    assert not ReconciliationRun.objects.exists()


def test_fetching_from_an_unreachable_gateway_records_a_failed_run_not_an_error_page(
    client, finance, today, django_capture_on_commit_callbacks
):
    client.force_login(finance)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(RECONCILE, {"gateway": "wechatpay", "bill_date": today.isoformat()})
    run, job = ReconciliationRun.objects.get(), Job.objects.get()
    assert run.status == ReconciliationRun.Status.FAILED and run.error
    assert job.state == Job.State.FAILED and job.error == run.error and job.result["run_id"] == run.pk
    page = client.get(response["Location"])  # the progress page says so, and links to the run
    assert page.status_code == 200
    text = page.content.decode()
    assert (
        escape(run.error) in text
        and reverse("admin:reconciliation_reconciliationrun_change", args=[run.pk]) in text
    )


def test_finance_resolves_a_difference_with_a_note(client, finance, with_differences):
    difference = Difference.objects.get(kind=Difference.Kind.UNKNOWN_TRADE)
    page = reverse("admin:reconciliation_difference_change", args=[difference.pk])
    resolve = reverse("admin:reconciliation_difference_resolve", args=[difference.pk])
    client.force_login(finance)
    assert resolve in client.get(page).content.decode()  # the "Resolve" button

    refused = client.post(resolve, {"note": ""})
    assert refused.status_code == 200 and "This field is required." in refused.content.decode()
    difference.refresh_from_db()
    assert difference.status == Difference.Status.OPEN

    response = client.post(resolve, {"note": "A test trade made in the merchant platform."})

    assert response.status_code == 302 and response["Location"] == page
    difference.refresh_from_db()
    assert (difference.status, difference.resolved_by, difference.resolution_note) == (
        Difference.Status.RESOLVED,
        finance,
        "A test trade made in the merchant platform.",
    )
    assert resolve not in client.get(page).content.decode()


def test_the_queue_shows_open_differences_by_default(client, finance, with_differences):
    resolved = Difference.objects.get(kind=Difference.Kind.UNKNOWN_TRADE)
    Difference.objects.filter(pk=resolved.pk).update(status=Difference.Status.RESOLVED, resolution_note="ok")
    client.force_login(finance)

    open_only = client.get(DIFFERENCES).context["cl"].result_list
    everything = client.get(DIFFERENCES + "?status=all").context["cl"].result_list
    by_kind = client.get(DIFFERENCES + "?status=all&kind=unknown_trade").context["cl"].result_list

    assert [d.kind for d in open_only] == [Difference.Kind.MISSING_AT_GATEWAY]
    assert len(everything) == 2 and [d.pk for d in by_kind] == [resolved.pk]
    of_run = client.get(DIFFERENCES + f"?run={with_differences.pk}&status=all").context["cl"].result_list
    assert len(of_run) == 2


def test_differences_export_as_csv(client, finance, with_differences):
    client.force_login(finance)
    response = client.get(
        reverse("admin:reconciliation_difference_export_csv") + "?status=all&kind=unknown_trade"
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode().lstrip("\ufeff"))))
    assert len(rows) == 1
    row = rows[0]
    assert (row["gateway"], row["kind"], row["status"], row["trade_no"]) == (
        "wechatpay",
        "unknown_trade",
        "open",
        "PNOSUCH",
    )
    assert (row["gateway_amount_yuan"], row["kpay_amount_yuan"], row["run"]) == (
        "1.00",
        "",
        str(with_differences.pk),
    )


def test_support_may_look_but_not_act(client, support, with_differences):
    difference = Difference.objects.first()
    client.force_login(support)
    assert client.get(RUNS).status_code == 200
    run_page = client.get(
        reverse("admin:reconciliation_reconciliationrun_change", args=[with_differences.pk])
    )
    assert run_page.status_code == 200 and "PNOSUCH" in run_page.content.decode()  # the differences preview
    assert RECONCILE not in client.get(RUNS).content.decode()  # no "Reconcile a bill" button
    assert client.get(DIFFERENCES).status_code == 200
    assert (
        client.get(reverse("admin:reconciliation_difference_change", args=[difference.pk])).status_code == 200
    )
    assert client.get(RECONCILE).status_code == 403
    assert (
        client.post(
            reverse("admin:reconciliation_difference_resolve", args=[difference.pk]), {"note": "x"}
        ).status_code
        == 403
    )
    difference.refresh_from_db()
    assert difference.status == Difference.Status.OPEN


def test_merchants_see_nothing_of_reconciliation(client, merchant_staff, with_differences):
    difference = Difference.objects.first()
    client.force_login(merchant_staff)
    assert client.get(RUNS).status_code == 403
    assert client.get(DIFFERENCES).status_code == 403
    assert client.get(RECONCILE).status_code == 403
    assert client.get(
        reverse("admin:reconciliation_difference_change", args=[difference.pk])
    ).status_code in (302, 403, 404)
    assert (
        client.get(reverse("admin:reconciliation_difference_resolve", args=[difference.pk])).status_code
        == 404
    )
    assert client.get(reverse("admin:reconciliation_difference_export_csv")).status_code == 403
    index = client.get(reverse("admin:index")).content.decode()
    assert "reconciliation" not in index.lower()


def test_a_staff_user_with_permissions_but_no_platform_role_sees_nothing(client, with_differences):
    from django.contrib.auth.models import Permission

    user = UserFactory(username="stray", is_staff=True)
    merchant_user = MerchantStaffFactory()
    for someone in (user, merchant_user):
        someone.user_permissions.add(*Permission.objects.filter(content_type__app_label="reconciliation"))
    for someone in (user, merchant_user):
        client.force_login(someone)
        assert client.get(DIFFERENCES).status_code == 403
        assert client.get(RECONCILE).status_code == 403


def test_list_pages_cost_the_same_whatever_the_rows(client, finance, course, today, gateway_answers):
    client.force_login(finance)
    paid(course)
    upload("wechatpay", today, wechat_bill([]))

    def queries(url):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    one_run, one_difference = queries(RUNS), queries(DIFFERENCES)
    for _ in range(4):
        paid(course)
    for i in range(3):
        upload("wechatpay", today, wechat_bill([wechat_payment(f"PX{i}", "4200", 100)]))
    assert Difference.objects.count() > 3 and ReconciliationRun.objects.count() == 4
    assert queries(RUNS) == one_run
    assert queries(DIFFERENCES) == one_difference


def test_uploaded_bills_wait_where_the_web_server_never_serves_them(settings):
    """Bills are payers' data: they wait for the worker in the private storage, outside
    MEDIA_ROOT (which the web server publishes at MEDIA_URL)."""
    from kpay import settings as site

    private = storages["private"]
    for root in (Path(private.location), site.KPAY_PRIVATE_ROOT):
        assert not root.resolve().is_relative_to(Path(site.MEDIA_ROOT).resolve())
