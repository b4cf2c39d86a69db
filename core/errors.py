"""The root of every app's exception hierarchy.

Each error carries a stable machine ``code``, a ``message`` that is safe to show to
the person who caused it (translated lazily: shown in the reader's language), and the HTTP
status the API answers with.
"""

from django.utils.translation import gettext_lazy as _


class KpayError(Exception):
    code = "error"
    message = _("Something went wrong.")
    http_status = 400

    def __init__(self, message: str | None = None, *, code: str | None = None):
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        super().__init__(self.message)
