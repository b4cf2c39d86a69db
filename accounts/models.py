from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.languages import language_choices


class Profile(models.Model):
    """What a learner sets about themselves beyond Django's user: the time zone the site
    shows times in (``accounts.timezones``) and the language the site's e-mails are written
    in (``core.languages``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        blank=True,
        help_text=_("Times on the site are shown in it. Empty: the site's time zone."),
    )
    language = models.CharField(
        _("language"),
        max_length=16,
        blank=True,
        choices=language_choices,
        help_text=_("E-mails are written in it. Empty: the site's language."),
    )

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self):
        return f"{self.user} ({self.time_zone or '-'})"


class OtpEnrolment(models.Model):
    """A link a superuser issued for a staff member to set up their first authenticator
    app (``accounts.otp``): one use, until ``expires_at``. Only the token's SHA-256 is
    kept; the link is shown once, to the superuser who issued it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="otp_enrolments",
        verbose_name=_("user"),
    )
    # Empty: issued on the command line (manage.py otp_enrolment_link), e.g. for the first
    # superuser, whom no one can issue a link to in the admin.
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("issued by"),
    )
    issued_at = models.DateTimeField(_("issued at"))
    expires_at = models.DateTimeField(_("expires at"))
    used_at = models.DateTimeField(_("used at"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn at"), null=True, blank=True)
    token_digest = models.CharField(max_length=64, unique=True, editable=False)

    class Meta:
        ordering = ["-issued_at", "-pk"]
        verbose_name = _("authenticator enrolment link")
        verbose_name_plural = _("authenticator enrolment links")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(expires_at__gt=models.F("issued_at")),
                name="otp_enrolment_expires_after_issue",
            ),
        ]

    def __str__(self):
        return f"{self.user} ({self.issued_at:%Y-%m-%d %H:%M})"
