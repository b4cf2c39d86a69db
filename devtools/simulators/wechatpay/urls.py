"""The WeChat Pay v3 API, the v2 withholding (papay) APIs, and the Official Account's web
authorisation (``open/`` and ``api/``: WeChat's two hosts), as the simulator serves them
under ``<site>/simulators/wechatpay``."""

from django.urls import path

from . import oauth, papay, views

urlpatterns = [
    # 网页授权: open.weixin.qq.com and api.weixin.qq.com
    path("open/connect/oauth2/authorize", oauth.authorize, name="wechat-oauth-authorize"),
    path("api/sns/oauth2/access_token", oauth.access_token, name="wechat-oauth-access-token"),
    # 委托代扣 (papay): v2 XML APIs, the signing page, the v3 pre-charge notice
    path("papay/entrustweb", papay.entrustweb, name="wechatpay-papay-entrustweb"),
    path("papay/contracts/<str:token>/", papay.contract_page, name="wechatpay-papay-contract"),
    path("papay/querycontract", papay.api_querycontract, name="wechatpay-papay-querycontract"),
    path("papay/deletecontract", papay.api_deletecontract, name="wechatpay-papay-deletecontract"),
    path("pay/pappayapply", papay.api_pappayapply, name="wechatpay-pappayapply"),
    path("pay/paporderquery", papay.api_paporderquery, name="wechatpay-paporderquery"),
    path(
        "v3/papay/contracts/<str:contract_id>/notify",
        papay.api_contract_notify,
        name="wechatpay-papay-notice",
    ),
    path("v3/pay/transactions/<str:trade_type>", views.api_order_create, name="wechatpay-order"),
    path("v3/pay/transactions/out-trade-no/<str:out_trade_no>", views.api_trade, name="wechatpay-trade"),
    path("v3/pay/transactions/id/<str:transaction_id>", views.api_trade_by_id, name="wechatpay-trade-id"),
    path(
        "v3/pay/transactions/out-trade-no/<str:out_trade_no>/close",
        views.api_trade_close,
        name="wechatpay-trade-close",
    ),
    path("v3/refund/domestic/refunds", views.api_refund_create, name="wechatpay-refunds"),
    path("v3/refund/domestic/refunds/<str:out_refund_no>", views.api_refund, name="wechatpay-refund"),
    path("v3/certificates", views.api_certificates, name="wechatpay-certificates"),
    path("v3/bill/tradebill", views.api_tradebill, name="wechatpay-tradebill"),
    path("v3/billdownload/file", views.api_bill_download, name="wechatpay-bill-download"),
    path("pay/<str:token>/", views.cashier, name="wechatpay-cashier"),
]
