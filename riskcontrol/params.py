"""The parameters of rule kinds, declared once, and the reasons rules give when they hit.

A rule kind declares its parameters as a schema (``{"amount": Money(_("limit"))}``). From
it come two forms: the one that validates parameters as they are stored (JSON: amounts in
fen, lists as lists), used by ``Rule.clean`` and every service, and the fields risk staff
fill in the admin (amounts in yuan, lists one value per line, windows in minutes).

A hit's :class:`Reason` is a message id (marked with ``gettext_noop``) and its values, so
it is stored once and shown in each reader's language, amounts in yuan.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from django import forms
from django.utils.translation import override

from core.money import YuanField, format_yuan
from core.risk import explain_reason


@dataclass(frozen=True)
class Reason:
    """Why a rule hit: ``message % values``, the values named in ``money`` being fen."""

    message: str
    values: dict = field(default_factory=dict)
    money: tuple[str, ...] = ()

    def as_json(self) -> dict:
        return {"message": self.message, "values": self.values, "money": list(self.money)}

    def english(self) -> str:
        """For the stored record and logs (shown to people in their language instead)."""
        with override("en"):
            return explain_reason(self.as_json())

    __str__ = english


class Param:
    """One parameter of a rule kind: its label and help, how it is stored, how it is typed."""

    def __init__(self, label, *, help_text=""):
        self.label, self.help_text = label, help_text

    def stored_field(self) -> forms.Field:
        raise NotImplementedError

    def admin_field(self) -> forms.Field:
        """What staff fill in (not required: only the chosen kind's fields are checked)."""
        return self.stored_field()

    def to_admin(self, stored):
        return stored

    def from_admin(self, typed):
        return typed

    def describe(self, stored) -> str:
        return "-" if stored in (None, "") else str(stored)

    def _kwargs(self, **more) -> dict:
        return {"label": self.label, "help_text": self.help_text, **more}


class Money(Param):
    """An amount: stored in fen, typed in yuan."""

    def stored_field(self):
        return forms.IntegerField(min_value=0, **self._kwargs())

    def admin_field(self):
        return YuanField(min_fen=0, required=False, **self._kwargs())

    def describe(self, stored):
        return format_yuan(stored, grouping=True, symbol=True) if isinstance(stored, int) else "-"


class Count(Param):
    def __init__(self, label, *, min_value=1, max_value=None, help_text=""):
        super().__init__(label, help_text=help_text)
        self.min_value, self.max_value = min_value, max_value

    def stored_field(self):
        return forms.IntegerField(min_value=self.min_value, max_value=self.max_value, **self._kwargs())

    def admin_field(self):
        field = self.stored_field()
        field.required = False
        return field


class _DecimalText(forms.DecimalField):
    """A decimal, cleaned to its text: parameters are stored as JSON, which has no decimals."""

    def clean(self, value):
        value = super().clean(value)
        return None if value is None else str(value)


class Ratio(Param):
    """A share from 0 to 1, stored as a decimal string ("0.40")."""

    def stored_field(self):
        return _DecimalText(min_value=0, max_value=1, decimal_places=2, **self._kwargs())

    def admin_field(self):
        field = forms.DecimalField(min_value=0, max_value=1, decimal_places=2, **self._kwargs())
        field.required = False
        return field

    def from_admin(self, typed):
        return None if typed is None else str(typed)

    def describe(self, stored):
        try:
            return f"{Decimal(str(stored)) * 100:.0f}%"
        except ArithmeticError:
            return str(stored)


class Choice(Param):
    def __init__(self, label, *, choices, help_text=""):
        super().__init__(label, help_text=help_text)
        self.choices = choices

    def stored_field(self):
        return forms.ChoiceField(choices=self.choices, **self._kwargs())

    def admin_field(self):
        return forms.ChoiceField(choices=[("", "---------"), *self.choices], required=False, **self._kwargs())

    def describe(self, stored):
        return str(dict(self.choices).get(stored, stored))


class Values(Param):
    """A list of values: stored as a JSON list, typed one a line."""

    def stored_field(self):
        return forms.JSONField(**self._kwargs())

    def admin_field(self):
        return forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}), **self._kwargs())

    def to_admin(self, stored):
        return "\n".join(str(value) for value in stored) if isinstance(stored, list) else stored

    def from_admin(self, typed):
        values = [line.strip() for line in (typed or "").replace(",", "\n").splitlines()]
        return [value for value in values if value] or None

    def describe(self, stored):
        return ", ".join(str(value) for value in stored) if isinstance(stored, list) else str(stored)


def stored_form(schema: dict[str, Param]) -> type[forms.Form]:
    """The form validating a kind's parameters as stored (JSON)."""
    return type("Params", (forms.Form,), {name: param.stored_field() for name, param in schema.items()})
