"""Reading the gateways' bills: WeChat Pay's trade bill and Alipay's detail bill, by
header name, streamed, amounts in exact fen, summaries and comment lines."""

import io
import random
from datetime import datetime

import pytest

from core.money import yuan_to_fen as bill_yuan_to_fen
from payments.gateways import get_gateway
from payments.gateways.base import BillLineKind, InvalidBill

from .bills import (
    ALIPAY_HEADER,
    WECHAT_ALL,
    WECHAT_SUCCESS,
    alipay_csv,
    alipay_line,
    alipay_zip,
    wechat_bill,
    wechat_payment,
    wechat_refund,
)


def read(alias: str, data: bytes):
    reader = get_gateway(alias).read_bill(io.BytesIO(data))
    return reader, list(reader)


# -- WeChat Pay ---------------------------------------------------------------------------
@pytest.mark.parametrize("compress", [False, True], ids=["csv", "gzip"])
def test_wechat_bill_lines_and_summary(compress):
    rows = [
        wechat_payment("P1", "4200000001", 9900, at="2026-11-23 09:30:15"),
        wechat_payment("P2", "4200000002", 1, fee=0),
        wechat_refund("P1", "4200000001", "R1", "5030000001", 990),
    ]
    reader, lines = read("wechatpay", wechat_bill(rows, compress=compress))

    assert [(line.kind, line.trade_no, line.txn_id, line.amount, line.fee) for line in lines] == [
        (BillLineKind.PAYMENT, "P1", "4200000001", 9900, 59),
        (BillLineKind.PAYMENT, "P2", "4200000002", 1, 0),
        (BillLineKind.REFUND, "P1", "4200000001", 990, -6),
    ]
    refund = lines[2]
    assert (refund.refund_no, refund.refund_id, refund.status, refund.succeeded) == (
        "R1",
        "5030000001",
        "SUCCESS",
        True,
    )
    assert lines[0].at.isoformat() == "2026-11-23T09:30:15+08:00"
    assert reader.has_refunds
    summary = reader.summary
    assert (summary.lines, summary.payments_total, summary.refunds_total, summary.fees_total) == (
        3,
        9901,
        990,
        53,
    )


def test_wechat_columns_are_found_by_name_in_any_order():
    columns = list(WECHAT_ALL)
    random.Random(3).shuffle(columns)
    rows = [wechat_payment("P1", "4200000001", 12345), wechat_refund("P1", "4200000001", "R1", "5031", 45)]
    _reader, lines = read("wechatpay", wechat_bill(rows, columns=columns))
    assert [(line.kind, line.trade_no, line.amount, line.refund_no) for line in lines] == [
        ("payment", "P1", 12345, ""),
        ("refund", "P1", 45, "R1"),
    ]


def test_wechat_success_variant_has_no_refund_columns():
    rows = [wechat_payment("P1", "4200000001", 9900)]
    reader, lines = read("wechatpay", wechat_bill(rows, columns=WECHAT_SUCCESS))
    assert [(line.kind, line.amount) for line in lines] == [("payment", 9900)]
    assert not reader.has_refunds and reader.summary.lines == 1


def test_wechat_refund_line_in_a_bill_without_a_refund_amount_column_is_an_unreadable_line():
    columns = [name for name in WECHAT_ALL if name not in ("退款金额", "申请退款金额")]
    rows = [wechat_payment("P1", "4200000001", 9900), wechat_refund("P1", "4200000001", "R1", "5031", 45)]
    _reader, lines = read("wechatpay", wechat_bill(rows, columns=columns))
    assert [(line.kind, line.trade_no) for line in lines] == [("payment", "P1"), ("invalid", "P1")]
    assert "no refund amount column" in lines[1].problem


def test_wechat_states_other_than_success_are_lines_that_moved_no_money():
    rows = [
        wechat_payment("P1", "4200000001", 9900, state="REVOKED"),
        wechat_refund("P2", "4200000002", "R2", "5032", 100, state="PROCESSING"),
    ]
    _reader, lines = read("wechatpay", wechat_bill(rows))
    assert [(line.status, line.succeeded) for line in lines] == [("REVOKED", False), ("PROCESSING", False)]


def test_wechat_unreadable_lines_are_reported_not_fatal():
    good = wechat_payment("P1", "4200000001", 9900)
    sub_fen = wechat_payment("P2", "4200000002", 100) | {"订单金额": "1.005"}
    bad_time = wechat_payment("P3", "4200000003", 100, at="yesterday")
    reader, lines = read("wechatpay", wechat_bill([good, sub_fen, bad_time], extra_lines=["`short,`row"]))
    assert [line.kind for line in lines] == ["payment", "invalid", "invalid", "invalid"]
    assert "1.005" in lines[1].problem and lines[1].trade_no == "P2"
    assert lines[3].problem == "2 columns, the header has 27" and lines[3].line_no == 5
    assert reader.summary.lines == 3


def test_wechat_lines_of_the_same_second_and_a_bad_time_between_them():
    # The reader parses a time once for consecutive lines of the same second: a bad time
    # between two equal good ones is still refused, and each line keeps its own time.
    rows = [
        wechat_payment("P1", "4200000001", 100, at="2026-11-23 09:30:15"),
        wechat_payment("P2", "4200000002", 100, at="2026-11-23 09:30:15"),
        wechat_payment("P3", "4200000003", 100, at="2026-11-23 9:30"),
        wechat_payment("P4", "4200000004", 100, at="2026-11-23 9:30"),
        wechat_payment("P5", "4200000005", 100, at="2026-11-23 09:30:15"),
        wechat_payment("P6", "4200000006", 100, at="2026-11-23 09:30:16"),
    ]
    _reader, lines = read("wechatpay", wechat_bill(rows))
    assert [line.kind for line in lines] == ["payment", "payment", "invalid", "invalid", "payment", "payment"]
    assert [line.at.isoformat() for line in lines if line.at] == [
        "2026-11-23T09:30:15+08:00",
        "2026-11-23T09:30:15+08:00",
        "2026-11-23T09:30:15+08:00",
        "2026-11-23T09:30:16+08:00",
    ]


def test_wechat_bill_without_summary_says_so():
    reader, lines = read("wechatpay", wechat_bill([wechat_payment("P1", "4200000001", 9900)], summary=None))
    assert len(lines) == 1 and reader.summary is None and reader.expects_summary


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "UTF-8"),
        ("名字,金额\r\n张三,1.00\r\n".encode(), "商户订单号"),
        (alipay_zip(alipay_csv([])), "zip"),
    ],
    ids=["empty", "binary", "other-csv", "alipay-zip"],
)
def test_a_file_that_is_not_a_wechat_bill_is_refused_with_a_reason(data, message):
    with pytest.raises(InvalidBill) as refused:
        read("wechatpay", data)
    assert message in str(refused.value.message)


def test_a_damaged_gzip_bill_is_refused_while_reading():
    data = wechat_bill([wechat_payment(f"P{i}", f"42{i:08d}", 100) for i in range(3000)], compress=True)
    reader = get_gateway("wechatpay").read_bill(io.BytesIO(data[: len(data) // 2]))
    with pytest.raises(InvalidBill, match="damaged"):
        list(reader)


# -- Alipay -------------------------------------------------------------------------------
@pytest.mark.parametrize("utf8_names", [True, False], ids=["utf8-names", "gbk-names"])
def test_alipay_zip_bill_in_gbk_with_comment_lines(utf8_names):
    rows = [
        alipay_line("2026112322001", "P1", 9900, fee=59, at="2026-11-23 12:00:01"),
        alipay_line("2026112322001", "P1", 990, kind="退款", request_no="R1", fee=-6),
        alipay_line("2026112322002", "P2", 100),
    ]
    reader, lines = read("alipay", alipay_zip(alipay_csv(rows), utf8_names=utf8_names))

    assert [
        (line.kind, line.trade_no, line.txn_id, line.amount, line.fee, line.refund_no) for line in lines
    ] == [
        ("payment", "P1", "2026112322001", 9900, 59, ""),
        ("refund", "P1", "2026112322001", 990, -6, "R1"),
        ("payment", "P2", "2026112322002", 100, 0, ""),
    ]
    assert lines[0].at == datetime.fromisoformat("2026-11-23T12:00:01+08:00")
    assert (reader.summary.payment_lines, reader.summary.refund_lines, reader.summary.lines) == (2, 1, 3)


def test_alipay_fees_are_charged_on_trades_and_returned_on_refunds_whatever_their_sign():
    rows = [
        alipay_line("T1", "P1", 9900, fee=-59),  # printed as a deduction
        alipay_line("T1", "P1", 9900, kind="退款", request_no="R1", fee=59),
    ]
    _reader, lines = read("alipay", alipay_zip(alipay_csv(rows)))
    assert [line.fee for line in lines] == [59, -59]


def test_alipay_plain_csv_in_utf8_with_reordered_columns():
    header = list(reversed(ALIPAY_HEADER))
    rows = [alipay_line("T1", "P1", 4200), alipay_line("T1", "P1", 200, kind="退款", request_no="R9")]
    reader, lines = read("alipay", alipay_csv(rows, header=header).encode("utf-8"))
    assert [(line.kind, line.amount, line.refund_no) for line in lines] == [
        ("payment", 4200, ""),
        ("refund", 200, "R9"),
    ]
    assert reader.summary.lines == 2


def test_alipay_unknown_business_types_and_lines_after_the_totals_are_unreadable_lines():
    rows = [alipay_line("T1", "P1", 100), alipay_line("T2", "P2", 100, kind="冻结")]
    text = alipay_csv(rows) + "T3,P3,交易\r\n"
    reader, lines = read("alipay", alipay_zip(text))
    assert [line.kind for line in lines] == ["payment", "invalid", "invalid"]
    assert "冻结" in lines[1].problem and lines[2].problem == "a line after the totals"
    assert reader.summary.payment_lines == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (wechat_bill([wechat_payment("P1", "4200000001", 9900)]), "no detail header"),
        (wechat_bill([wechat_payment("P1", "4200000001", 9900)], compress=True), "gzip"),
        (alipay_zip(alipay_csv([]).replace("服务费(元)", "手续费")), "服务费(元)"),
        (b"PK\x03\x04 not really a zip", "damaged"),
    ],
    ids=["wechat-csv", "gzip", "missing-column", "bad-zip"],
)
def test_a_file_that_is_not_an_alipay_bill_is_refused_with_a_reason(data, message):
    with pytest.raises(InvalidBill) as refused:
        read("alipay", data)
    assert message in str(refused.value.message)


def test_an_archive_without_the_detail_bill_is_refused():
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("x_业务明细(汇总).csv", "#汇总\r\n".encode("gbk"))
    with pytest.raises(InvalidBill, match="detail"):
        read("alipay", archive.getvalue())


# -- amounts --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "fen"),
    [
        ("99.00", 9900),
        ("0.01", 1),
        ("-0.59", -59),
        ("100000000.00", 10_000_000_000),
        ("5", 500),
        ("1.10", 110),
    ],
)
def test_yuan_amounts_become_exact_fen(text, fen):
    assert bill_yuan_to_fen(text) == fen


@pytest.mark.parametrize("text", ["1.005", "abc", "", "NaN", "Infinity"])
def test_amounts_that_are_not_whole_fen_are_refused(text):
    with pytest.raises(ValueError):
        bill_yuan_to_fen(text)


@pytest.mark.parametrize(
    "text",
    # The usual form, and what int() alone would wrongly take once the dot is out.
    [
        *("99.01", "-0.01", "-0.00", "0.00", "007.50", "1_0.00", "1.0_0", "١.٠٠", " 1.00", "1.00 ", "+1.00"),
        *("1.0", ".50", "1.", "1,000.00", "1.005", "--1.00", "-", "5", "1e2", "0x1.00"),
    ],
)
def test_the_wechat_readers_quick_amounts_agree_with_yuan_to_fen(text):
    from payments.gateways.wechatpay.bill import _fen

    try:
        expected = bill_yuan_to_fen(text)
    except ValueError as exc:
        with pytest.raises(type(exc)):
            _fen(text)
    else:
        assert _fen(text) == expected


def test_the_wechat_readers_quick_amounts_agree_with_yuan_to_fen_at_random():
    from payments.gateways.wechatpay.bill import _fen

    rng = random.Random(17)
    for _ in range(2000):
        fen = rng.randrange(-(10**9), 10**9)
        text = f"{'-' if fen < 0 else ''}{abs(fen) // 100}.{abs(fen) % 100:02d}"
        assert _fen(text) == bill_yuan_to_fen(text) == fen
