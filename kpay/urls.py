from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("kpay.api_urls")),
    path("", include("accounts.urls")),
    path("payments/", include("payments.urls")),
    path("", include("orders.urls")),
    path("", include("promotions.urls")),
    path("", include("memberships.urls")),
    path("", include("promoters.urls")),
    path("", include("courses.urls")),
]

if settings.KPAY_SANDBOX_ENABLED:  # development only: a string include, so production never imports it
    urlpatterns.append(path("", include("kpay.dev_urls")))

# Uploaded covers, from this process in development only (static() is empty unless DEBUG).
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
