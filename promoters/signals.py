"""Receivers: a referral clicked before logging in is kept on the user at login."""

from .services import COOKIE, Referral, referral_store


def referral_kept_at_login(sender, request, user, **kwargs):
    cookie = getattr(request, "COOKIES", {}).get(COOKIE) if request is not None else None
    referral = Referral.unsign(cookie) if cookie else None
    if referral is not None:
        referral_store(user=user, referral=referral)
