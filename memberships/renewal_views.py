"""The learner's automatic renewal of a membership: its state, turning it on (signing at
the gateway: a page to open or a QR code) and off. The same block is included in "My
memberships" (``templates/memberships/_renewal.html``)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from core.errors import KpayError
from core.http import client_info

from .exceptions import MembershipNotFound
from .renewal_selectors import agreement_live, membership_for_learner
from .services import agreement_sync_if_due, renewal_turn_off, renewal_turn_on


@login_required
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def renewal(request, membership_id):
    """GET: the renewal's state (asking the gateway now and then while a signature is
    awaited). POST ``on=1`` (with ``channel``) or ``on=0``: turn it on or off."""
    membership = membership_for_learner(learner=request.user, membership_id=membership_id)
    if membership is None:
        raise Http404
    if request.method == "POST":
        return _toggle(request, membership)
    agreement = agreement_live(membership_id=membership.pk)
    if agreement is not None:
        agreement_sync_if_due(agreement=agreement)
        membership.refresh_from_db()
    return render(request, "memberships/renewal.html", {"membership": membership})


def _toggle(request, membership):
    on = request.POST.get("on")
    if on not in ("0", "1"):
        messages.error(request, _("Choose whether to turn automatic renewal on or off."))
        return redirect("memberships:renewal", membership_id=membership.pk)
    try:
        if on == "1":
            renewal_turn_on(
                learner=request.user,
                membership_id=membership.pk,
                channel=request.POST.get("channel") or None,
                client=client_info(request),
            )
        else:
            agreement = renewal_turn_off(learner=request.user, membership_id=membership.pk)
            if agreement is None or agreement.status == agreement.Status.TERMINATED:
                messages.success(request, _("Automatic renewal is off."))
            else:
                messages.info(
                    request, _("Automatic renewal is off; the payment service will confirm shortly.")
                )
    except KpayError as exc:
        if isinstance(exc, MembershipNotFound):
            raise Http404 from exc
        messages.error(request, str(exc.message))
    return redirect("memberships:renewal", membership_id=membership.pk)
