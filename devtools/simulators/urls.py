from django.urls import include, path

from . import sandbox, sandbox_agreements

app_name = "simulators"

urlpatterns = [
    path("sandbox/cashier/", sandbox.cashier, name="sandbox-cashier"),
    path("sandbox/api/trades/<str:out_trade_no>", sandbox.api_trade, name="sandbox-trade"),
    path("sandbox/api/trades/<str:out_trade_no>/close", sandbox.api_trade_close, name="sandbox-trade-close"),
    path("sandbox/api/refunds", sandbox.api_refund_create, name="sandbox-refunds"),
    path("sandbox/api/refunds/<str:out_refund_no>", sandbox.api_refund, name="sandbox-refund"),
    path("sandbox/agreements/sign/", sandbox_agreements.agreement_sign, name="sandbox-agreement-sign"),
    path("sandbox/agreements/<str:token>/", sandbox_agreements.agreement_page, name="sandbox-agreement"),
    path(
        "sandbox/api/agreements/<str:agreement_no>",
        sandbox_agreements.api_agreement,
        name="sandbox-api-agreement",
    ),
    path(
        "sandbox/api/agreements/<str:agreement_no>/terminate",
        sandbox_agreements.api_agreement_terminate,
        name="sandbox-api-agreement-terminate",
    ),
    path(
        "sandbox/api/agreements/<str:agreement_id>/notices",
        sandbox_agreements.api_notice,
        name="sandbox-api-notices",
    ),
    path("sandbox/api/charges", sandbox_agreements.api_charge, name="sandbox-api-charges"),
    path("wechatpay/", include("devtools.simulators.wechatpay.urls")),
    path("alipay/", include("devtools.simulators.alipay.urls")),
]
