"""Telling the learner about their automatic renewal by e-mail, once the change commits:
the notice before a charge, a success, a failed attempt (and when the next one is), and
the lapse. Templates: ``templates/memberships/email/renewal_<kind>.txt`` (the first line
is the subject), translated like every page, into the learner's language
(``core.languages.language_of``)."""

import logging

from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import translation

from core.languages import language_of

logger = logging.getLogger(__name__)

KINDS = ("notice", "succeeded", "failed", "lapsed")


def renewal_mail_render(kind: str, context: dict) -> tuple[str, str]:
    """The subject and body of e-mail ``kind`` in the active language."""
    if kind not in KINDS:
        raise ValueError(f"no renewal e-mail {kind!r}")
    text = render_to_string(f"memberships/email/renewal_{kind}.txt", context).strip()
    subject, _, body = text.partition("\n")
    return " ".join(subject.split()), body.strip() + "\n"


def renewal_mail_on_commit(kind: str, *, membership, **context) -> None:
    """E-mail the learner after commit (nothing without an address). A mail server
    problem is logged, never raised: what the e-mail tells of has happened."""
    learner = membership.learner
    if not learner.email:
        return
    with translation.override(language_of(learner)):  # a worker's is the site's
        subject, body = renewal_mail_render(
            kind, {"membership": membership, "plan": membership.plan, **context}
        )
    recipient = learner.email

    def send():
        try:
            send_mail(subject, body, None, [recipient])
        except Exception:
            logger.exception("membership %s: could not send the renewal e-mail %r", membership.pk, kind)

    transaction.on_commit(send)
