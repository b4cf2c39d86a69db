"""The promoter page's withdrawal form (提现): an amount typed in yuan and the bank account.

The form only reads what was typed (a bad amount is a form error, never a 500); the
limits, the available balance and who may withdraw are the payout flow's
(:func:`promoters.services.promoter_payout_request_once`), whose refusals the view puts
back on the form."""

import secrets

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from core.money import YuanField, format_yuan


def _yuan(fen: int) -> str:
    """An amount as the site shows it: ``¥1234.56``."""
    return format_yuan(fen, symbol=True)


def new_token() -> str:
    """The form's one-time token: sending it twice makes one payout."""
    return secrets.token_urlsafe(16)


class WithdrawalForm(forms.Form):
    amount = YuanField(label=_("Amount (yuan)"), min_fen=1, max_digits=12)
    account_name = forms.CharField(label=_("Account holder"), max_length=120)
    bank_name = forms.CharField(label=_("Bank"), max_length=120)
    account_number = forms.CharField(label=_("Account number"), max_length=64)
    token = forms.CharField(
        widget=forms.HiddenInput,
        max_length=64,
        error_messages={"required": _("This form is out of date: please fill it in again.")},
    )

    def __init__(self, *args, promoter, last_payout=None, **kwargs):
        prefix = f"w{promoter.pk}"
        initial = {"token": new_token()}
        if last_payout is not None:
            initial.update(account_name=last_payout.account_name, bank_name=last_payout.bank_name)
        super().__init__(*args, prefix=prefix, initial=initial, **kwargs)
        self.promoter = promoter
        self.last_payout = last_payout
        self.fields["amount"].help_text = _("Between %(min)s and %(max)s, at most what is available.") % {
            "min": _yuan(settings.KPAY_PAYOUT_MIN),
            "max": _yuan(settings.KPAY_PAYOUT_MAX),
        }
        if last_payout is not None and last_payout.account_last4:
            # Never the number itself in the page: left empty, it is the last payout's.
            self.fields["account_number"].required = False
            self.fields["account_number"].help_text = _(
                "Leave empty to use the account of your last withdrawal (**** %(last4)s)."
            ) % {"last4": last_payout.account_last4}

    def clean_account_number(self):
        number = self.cleaned_data["account_number"].strip()
        if not number and self.last_payout is not None:
            number = self.last_payout.account_number
        return number
