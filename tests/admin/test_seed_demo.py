import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from courses.models import Course, MerchantMember

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
