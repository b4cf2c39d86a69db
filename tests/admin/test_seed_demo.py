import io
from datetime import datetime, time, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.utils import timezone

from courses.models import Course, MerchantMember
from payments.models import Payment
from reconciliation.matching import BILL_TIMEZONE
from reconciliation.models import ReconciliationRun
from reconciliation.services import reconciliation_fetch, yesterday

from .pages import admin_url

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent_and_sets_up_every_role(client):
    call_command("seed_demo", stdout=None)
    call_command("seed_demo")

    users = {u.username: u for u in get_user_model().objects.prefetch_related("groups")}
    assert users["admin"].is_superuser
    for name, group in [
        ("merchant", "merchant"),
        ("merchant2", "merchant"),
        ("support", "support"),
        ("finance", "finance"),
        ("risk", "risk"),
    ]:
        assert users[name].is_staff and not users[name].is_superuser
        assert [g.name for g in users[name].groups.all()] == [group]
    assert not users["learner"].is_staff
    from riskcontrol.models import Rule, RuleChange

    assert Rule.objects.count() == 2 and RuleChange.objects.count() == 2  # example rules, made once
    demo = MerchantMember.objects.get(user__username="merchant").merchant
    second = MerchantMember.objects.get(user__username="merchant2").merchant
    assert demo.name == "Demo Studio / 演示工作室" and second != demo

    published = Course.objects.filter(status=Course.Status.PUBLISHED)
    assert 3 <= published.count() <= 4
    assert Course.objects.filter(status=Course.Status.DRAFT, merchant=demo).count() == 1
    for course in Course.objects.prefetch_related("lessons"):
        lessons = list(course.lessons.all())
        assert len(lessons) == 3
        assert [lesson.is_preview for lesson in lessons] == [True, False, False]
    assert Course.objects.count() == 5  # the second run added nothing

    # The demo logins work, and the two merchants are kept apart.
    assert client.login(username="merchant2", password="kpay-demo")
    page = client.get(admin_url(Course)).text
    assert "摄影基础" in page and "Python" not in page


def test_seed_demo_prints_the_logins(capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert "merchant2" in out and "kpay-demo" in out


def test_seed_demo_refuses_production(settings):
    settings.KPAY_ENV = "production"
    with pytest.raises(CommandError):
        call_command("seed_demo")
    assert not get_user_model().objects.filter(username="admin").exists()


def test_running_the_demo_again_logs_nobody_out(client):
    """``bin/dev`` seeds the demo at every start: a demo user's password (and so the hash
    their sessions keep) is set once, when the user is made."""
    call_command("seed_demo", stdout=io.StringIO())
    assert client.login(username="finance", password="kpay-demo")
    assert client.get("/admin/").status_code == 200
    password = get_user_model().objects.get(username="finance").password

    call_command("seed_demo", stdout=io.StringIO())

    assert get_user_model().objects.get(username="finance").password == password
    assert client.get("/admin/").status_code == 200  # still logged in, not sent to the login page


@pytest.mark.django_db(transaction=True)
def test_the_simulators_bills_list_the_demos_trades(live_simulators):
    """Finance reconciles the demo's days against the simulators' real bills (fetched over
    HTTP, as "Reconcile a bill" does): yesterday's and a settled day's, on each gateway."""
    call_command("seed_demo", stdout=io.StringIO())
    for alias, days_ago in [("wechatpay", 1), ("alipay", 1), ("wechatpay", 13), ("alipay", 10)]:
        day = yesterday() - timedelta(days=days_ago - 1)
        start = timezone.make_aware(datetime.combine(day, time.min), BILL_TIMEZONE)
        demo = Payment.objects.filter(
            gateway=alias,
            status=Payment.Status.SUCCEEDED,
            succeeded_at__gte=start,
            succeeded_at__lt=start + timedelta(days=1),
        )
        assert demo.exists(), (alias, day)

        run = reconciliation_fetch(gateway_alias=alias, bill_date=day)

        assert run.status == ReconciliationRun.Status.SUCCEEDED, run.error
        assert (run.matched, run.differences_found) == (demo.count(), 0), (alias, day)
