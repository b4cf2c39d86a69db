from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("kpay.api.urls")),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("payments/", include("payments.urls")),
    path("", include("orders.urls")),
    path("", include("courses.urls")),
]

if settings.KPAY_SANDBOX_ENABLED:  # development only: a string include, so production never imports it
    urlpatterns.append(path("", include("kpay.dev_urls")))
