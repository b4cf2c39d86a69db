"""Development URLs (the gateway simulators), included by ``kpay.urls`` only where
``KPAY_SANDBOX_ENABLED``: devtools is installed there alone."""

from django.urls import include, path

urlpatterns = [
    path("simulators/", include("devtools.simulators.urls")),
]
