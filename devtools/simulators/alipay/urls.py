from django.urls import path

from . import agreements, views

app_name = "sim_alipay"

urlpatterns = [
    path("gateway.do", views.gateway_do, name="gateway"),
    path("scan/<str:token>/", views.scan, name="scan"),
    path("bill/<str:token>/", views.bill_download, name="bill"),
    path("agreement/<str:token>/", agreements.agreement_page, name="agreement"),
]
