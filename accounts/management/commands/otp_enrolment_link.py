"""``manage.py otp_enrolment_link USERNAME``: an authenticator enrolment link for a staff
member, from the command line (the first superuser has no one to issue one in the admin).
Printed once; only its digest is stored (``accounts.otp``)."""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse

from accounts import otp


class Command(BaseCommand):
    help = "Issue a one-use authenticator enrolment link for a staff member and print it."

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model()._default_manager.filter(username=username, is_active=True).first()
        if user is None or not user.is_staff:
            raise CommandError(f"no active staff user {username!r}")
        enrolment, token = otp.enrolment_issue(user=user, by=None)
        link = f"{settings.KPAY_PUBLIC_URL}{reverse('otp-enrol', args=[token])}"
        self.stdout.write(f"{link}\n(valid until {enrolment.expires_at:%Y-%m-%d %H:%M %Z}, once, for {user})")
