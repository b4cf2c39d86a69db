from django.urls import path

from . import views, webhooks

app_name = "payments"

urlpatterns = [
    path("webhooks/<str:alias>/", webhooks.gateway_webhook, name="webhook"),
    path("webhooks/<str:alias>/withholding/", webhooks.withholding_webhook, name="withholding-webhook"),
    path("pay/<str:order_no>/", views.pay, name="pay"),
    path("pay/<str:order_no>/status/", views.pay_status, name="status"),
    path("pay/<str:order_no>/result/", views.result, name="result"),
    path("wechat/authorize/", views.wechat_authorize, name="wechat-authorize"),
    path("wechat/authorized/", views.wechat_authorized, name="wechat-authorized"),
    path("refunds/<str:order_no>/request/", views.refund_request, name="refund-request"),
    path("receipts/<str:order_no>/", views.receipt, name="receipt"),
]
