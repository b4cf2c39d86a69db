from django.apps import AppConfig
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .keys import dev_keys_ensure


class DevtoolsConfig(AppConfig):
    name = "devtools"
    label = "devtools"
    verbose_name = _("Development tools (development only)")

    def ready(self):
        """The settings point the gateways and simulators at key files in ``KPAY_KEY_DIR``:
        make any that are missing before the first request reads them."""
        dev_keys_ensure(settings.KPAY_KEY_DIR)
