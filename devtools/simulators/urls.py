from django.urls import include, path

from . import sandbox

app_name = "simulators"

urlpatterns = [
    path("sandbox/cashier/", sandbox.cashier, name="sandbox-cashier"),
    path("sandbox/api/trades/<str:out_trade_no>", sandbox.api_trade, name="sandbox-trade"),
    path("sandbox/api/trades/<str:out_trade_no>/close", sandbox.api_trade_close, name="sandbox-trade-close"),
    path("sandbox/api/refunds", sandbox.api_refund_create, name="sandbox-refunds"),
    path("sandbox/api/refunds/<str:out_refund_no>", sandbox.api_refund, name="sandbox-refund"),
    path("wechatpay/", include("devtools.simulators.wechatpay.urls")),
    path("alipay/", include("devtools.simulators.alipay.urls")),
]
