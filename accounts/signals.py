"""A changed password revokes every API token of that user.

Hooked on the user model's save, so it holds whatever changed the password: the site, the
admin, ``manage.py changepassword`` or any ``set_password()`` followed by ``save()``
(``set_unusable_password()`` too). A bulk ``QuerySet.update(password=…)`` or raw SQL sends
no signal: on PostgreSQL and SQLite a database trigger (migration ``accounts.0004``) revokes
the tokens on those paths too; on other databases only this signal holds.
Like Django's session check (``get_session_auth_hash``) it looks at the stored hash, so a
hasher upgrade on login also starts the user's tokens afresh.
"""

from django.contrib.auth import get_user_model
from django.db.models.signals import post_save, pre_save

from . import tokens

_CHANGED = "_kpay_password_changed"


def remember_password_change(sender, instance, raw=False, update_fields=None, **kwargs):
    if raw or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    stored = sender._default_manager.filter(pk=instance.pk).values_list("password", flat=True).first()
    setattr(instance, _CHANGED, stored is not None and stored != instance.password)


def revoke_tokens_on_password_change(sender, instance, created=False, raw=False, **kwargs):
    if getattr(instance, _CHANGED, False):
        setattr(instance, _CHANGED, False)
        tokens.revoke_all(instance)


def connect():
    user_model = get_user_model()
    pre_save.connect(remember_password_change, sender=user_model, dispatch_uid="kpay-password-change-pre")
    post_save.connect(
        revoke_tokens_on_password_change, sender=user_model, dispatch_uid="kpay-password-change-post"
    )
