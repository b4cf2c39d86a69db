from django.urls import path

from . import renewal_views, views, webhooks

app_name = "memberships"

urlpatterns = [
    # automatic renewal
    path("my/memberships/<int:membership_id>/renewal/", renewal_views.renewal, name="renewal"),
    path(
        "memberships/webhooks/<str:alias>/agreements/", webhooks.agreement_webhook, name="agreement-webhook"
    ),
    path("memberships/", views.plan_index, name="index"),
    path("memberships/<slug:slug>/", views.plan_detail, name="plan"),
    path("memberships/<slug:slug>/buy/", views.plan_buy, name="buy"),
    path("merchants/<slug:merchant_slug>/membership/", views.merchant_plans, name="merchant"),
    path("my/memberships/", views.my_memberships, name="mine"),
]
