from django.urls import path

from .api import MyMembershipsApi, PlanDetailApi, PlanListApi, PlanOrderCreateApi
from .renewal_api import MembershipRenewalApi

urlpatterns = [
    # automatic renewal
    path(
        "memberships/<str:membership_id>/renewal/", MembershipRenewalApi.as_view(), name="membership-renewal"
    ),
    path("memberships/plans/", PlanListApi.as_view(), name="membership-plan-list"),
    path("memberships/plans/<str:slug>/", PlanDetailApi.as_view(), name="membership-plan-detail"),
    path("memberships/plans/<str:slug>/orders/", PlanOrderCreateApi.as_view(), name="membership-plan-order"),
    path("memberships/mine/", MyMembershipsApi.as_view(), name="membership-mine"),
]
