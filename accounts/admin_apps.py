"""``django.contrib.admin`` with kpay's admin site (``accounts.admin_site.KpayAdminSite``):
INSTALLED_APPS names this config instead of the plain admin."""

from django.contrib.admin.apps import AdminConfig


class KpayAdminConfig(AdminConfig):
    default_site = "accounts.admin_site.KpayAdminSite"
