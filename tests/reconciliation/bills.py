"""Crafted gateway bills, in the gateways' real layouts, for the reconciliation tests."""

import csv
import gzip
import io
import zipfile

from devtools.simulators.alipay.views import BILL_DETAIL_HEADER as ALIPAY_HEADER
from devtools.simulators.wechatpay.views import ALL_COLUMNS as WECHAT_ALL
from devtools.simulators.wechatpay.views import REFUND_COLUMNS as WECHAT_REFUND_COLUMNS
from devtools.simulators.wechatpay.views import SUMMARY_COLUMNS as WECHAT_SUMMARY

WECHAT_SUCCESS = [c for c in WECHAT_ALL if c not in WECHAT_REFUND_COLUMNS]


def yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


# -- WeChat Pay ---------------------------------------------------------------------------
def wechat_payment(trade_no, txn_id, amount, *, fee=None, state="SUCCESS", at="2026-11-23 10:00:00") -> dict:
    fee = round(amount * 0.006) if fee is None else fee
    return {
        "交易时间": at,
        "公众账号ID": "wxd930ea5d5a258f4f",
        "商户号": "1900000109",
        "特约商户号": "0",
        "设备号": "",
        "微信订单号": txn_id,
        "商户订单号": trade_no,
        "用户标识": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        "交易类型": "NATIVE",
        "交易状态": state,
        "付款银行": "OTHERS",
        "货币种类": "CNY",
        "应结订单金额": yuan(amount),
        "代金券金额": "0.00",
        "微信退款单号": "0",
        "商户退款单号": "0",
        "退款金额": "0.00",
        "充值券退款金额": "0.00",
        "退款类型": "",
        "退款状态": "",
        "商品名称": "Rust 入门, part 1",  # a comma inside a value: quoted CSV
        "商户数据包": "",
        "手续费": yuan(fee),
        "费率": "0.60%",
        "订单金额": yuan(amount),
        "申请退款金额": "0.00",
        "费率备注": "",
        "_kind": "payment",
        "_amount": amount,
        "_fee": fee,
    }


def wechat_refund(trade_no, txn_id, refund_no, refund_id, amount, *, fee=None, state="SUCCESS") -> dict:
    fee = -round(amount * 0.006) if fee is None else fee
    row = wechat_payment(trade_no, txn_id, 0, fee=fee, state="REFUND")
    row.update(
        {
            "应结订单金额": "0.00",
            "订单金额": "99.00",
            "微信退款单号": refund_id,
            "商户退款单号": refund_no,
            "退款金额": yuan(amount),
            "退款类型": "ORIGINAL",
            "退款状态": state,
            "申请退款金额": yuan(amount),
            "_kind": "refund",
            "_amount": amount,
        }
    )
    return row


def wechat_summary(rows) -> dict:
    payments = sum(r["_amount"] for r in rows if r["_kind"] == "payment")
    refunds = sum(r["_amount"] for r in rows if r["_kind"] == "refund")
    return {
        "总交易单数": str(len(rows)),
        "应结订单总金额": yuan(payments),
        "退款总金额": yuan(refunds),
        "充值券退款总金额": "0.00",
        "手续费总金额": yuan(sum(r["_fee"] for r in rows)),
        "订单总金额": yuan(payments),
        "申请退款总金额": yuan(refunds),
    }


def wechat_bill(rows, *, columns=WECHAT_ALL, summary="auto", compress=False, extra_lines=()) -> bytes:
    """The trade bill: header, backtick-prefixed rows, summary header and row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([f"`{row[c]}" for c in columns])
    for line in extra_lines:
        out.write(line + "\r\n")
    if summary is not None:
        figures = wechat_summary(rows) if summary == "auto" else summary
        writer.writerow(WECHAT_SUMMARY)
        writer.writerow([f"`{figures[c]}" for c in WECHAT_SUMMARY])
    data = out.getvalue().encode()
    return gzip.compress(data) if compress else data


# -- Alipay -------------------------------------------------------------------------------
def alipay_line(txn_id, trade_no, amount, *, kind="交易", request_no="", fee=0, at="2026-11-23 10:00:00"):
    signed = -amount if kind == "退款" else amount
    row = dict.fromkeys(ALIPAY_HEADER, "")
    row.update(
        {
            "支付宝交易号": txn_id,
            "商户订单号": trade_no,
            "业务类型": kind,
            "商品名称": "Rust 入门",
            "创建时间": at,
            "完成时间": at,
            "对方账户": "lea***@163.com",
            "订单金额(元)": yuan(signed),
            "商家实收(元)": yuan(signed),
            "退款批次号/请求号": request_no,
            "服务费(元)": yuan(fee),
            "分润(元)": "0.00",
        }
    )
    return row


def alipay_csv(rows, *, header=ALIPAY_HEADER, totals="auto") -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    out.write("#支付宝业务明细查询\r\n#账号：[20880000000000010156]\r\n")
    out.write("#起始日期：[2026年11月23日 00:00:00]   终止日期：[2026年11月24日 00:00:00]\r\n")
    out.write(
        "#-----------------------------------------业务明细列表----------------------------------------\r\n"
    )
    writer.writerow(header)
    for row in rows:
        writer.writerow([row[c] for c in header])
    out.write(
        "#-----------------------------------------业务明细列表结束------------------------------------\r\n"
    )
    if totals is not None:
        trades = sum(1 for r in rows if r["业务类型"] == "交易")
        payments, refunds = (trades, len(rows) - trades) if totals == "auto" else totals
        out.write(f"#交易合计：{payments}笔，退款合计：{refunds}笔\r\n")
    out.write("#导出时间：[2026年11月24日 09:12:44]\r\n")
    return out.getvalue()


def alipay_zip(text: str, *, encoding="gbk", utf8_names=True) -> bytes:
    """The archive as Alipay delivers it: the detail CSV and its summary, in GBK. With
    ``utf8_names=False`` the member names are GBK bytes without zip's UTF-8 flag, as
    zips made on Chinese Windows are (zipfile cannot write those: placeholders of the
    same length are written, then replaced)."""
    archive = io.BytesIO()
    names = ["20880000000000010156_20261123_业务明细(汇总).csv", "20880000000000010156_20261123_业务明细.csv"]
    contents = ["#支付宝业务汇总查询\r\n", text]
    raw_names = [name.encode("gbk") for name in names]
    placeholders = [f"{i}".encode() * len(raw) for i, raw in enumerate(raw_names)]
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, placeholder, content in zip(names, placeholders, contents, strict=True):
            bundle.writestr(name if utf8_names else placeholder.decode(), content.encode(encoding))
    data = archive.getvalue()
    if not utf8_names:
        for placeholder, raw in zip(placeholders, raw_names, strict=True):
            data = data.replace(placeholder, raw)
    return data
