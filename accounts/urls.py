from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from . import languages, profile, views

urlpatterns = [
    path("accounts/login/", languages.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path("accounts/otp/setup/", views.otp_setup, name="otp-setup"),
    path("accounts/otp/enrol/<str:token>/", views.otp_enrol, name="otp-enrol"),
    path("accounts/otp/recovery-codes/", views.otp_recovery_codes, name="otp-recovery-codes"),
    path("accounts/profile/", profile.profile, name="profile"),
    path("i18n/setlang/", languages.set_language, name="set_language"),
    path("accounts/password/change/", profile.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/reset/", profile.PasswordResetView.as_view(), name="password_reset"),
    path(
        "accounts/password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="registration/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "accounts/password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(
            template_name="registration/password_reset_confirm.html",
            success_url=reverse_lazy("password_reset_complete"),
        ),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="registration/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
]
