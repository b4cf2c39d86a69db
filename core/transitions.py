"""Driving a django-fsm transition and recording it, the same way for every model."""

from django.conf import settings
from django.db import models
from django.utils import formats, timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import TransitionNotAllowed


class StatusChange(models.Model):
    """A row of a model's history: a transition, who made it (empty: the system) and why.

    Concrete subclasses add the foreign key to the model, named after it.
    """

    from_status = models.CharField(_("from"), max_length=20)
    to_status = models.CharField(_("to"), max_length=20)
    transition = models.CharField(_("step"), max_length=40)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    reason = models.CharField(_("reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("time"))

    class Meta:
        abstract = True
        ordering = ["created_at", "pk"]
        verbose_name = _("status change")
        verbose_name_plural = _("status history")

    def __str__(self):
        """When it happened, in the local time zone (the statuses' words are the parent's:
        ``core.admin.StatusHistoryInline`` shows them)."""
        return formats.date_format(timezone.localtime(self.created_at), "DATETIME_FORMAT")


def apply_transition(
    instance, name: str, *, history_model: type[models.Model], actor=None, reason: str = "", at, **kwargs
) -> models.Model | None:
    """Call transition ``name`` on ``instance`` and return its unsaved history row.

    Returns None, changing nothing, when the transition is not allowed from the current
    state; the caller decides whether that is an error. The history model has
    ``from_status``, ``to_status``, ``transition``, ``actor``, ``reason``, ``created_at``
    and a foreign key named after the instance's model. Every transition takes ``at``.
    """
    before = instance.status
    if not _proceed(instance, name, at=at, **kwargs):
        return None
    return history_model(
        **{instance._meta.model_name: instance},
        from_status=before,
        to_status=instance.status,
        transition=name,
        actor=actor,
        reason=reason[:255],
        created_at=at,
    )


def transition_row(
    instance, name: str, *, history_model: type[models.Model], actor=None, reason: str = "", at, **kwargs
) -> dict | None:
    """:func:`apply_transition` with its history row as values (``{attname: value}``,
    for ``core.db.db_insert_rows``) rather than an unsaved instance: for a path that
    only writes the row (a gateway notification's)."""
    before = instance.status
    if not _proceed(instance, name, at=at, **kwargs):
        return None
    return {
        history_model._meta.get_field(instance._meta.model_name).attname: instance.pk,
        "from_status": before,
        "to_status": instance.status,
        "transition": name,
        "actor_id": actor.pk if actor is not None else None,
        "reason": reason[:255],
        "created_at": at,
    }


def _proceed(instance, name: str, **kwargs) -> bool:
    """Call transition ``name``; False, nothing changed, when django-fsm refuses it.

    It used to ask ``can_proceed`` first and then call the transition, which asks the
    same again (source state and conditions: twice per transition on every payment).
    The call's own check decides now, with the same rules: a refused transition raises
    before any signal is sent or field changed. Only django-fsm's refusal of this call
    (its exception names the instance) means "not allowed"; any other error is raised.
    """
    try:
        getattr(instance, name)(**kwargs)
    except TransitionNotAllowed as refused:
        if getattr(refused, "object", None) is not instance:
            raise
        return False
    return True
