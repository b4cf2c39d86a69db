"""Alipay's trade bill (业务明细): a zip of GBK CSVs, read line by line."""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from django.utils.translation import gettext_lazy as _

from core.money import yuan_to_fen
from payments.gateways.base import (
    BillLine,
    BillLineKind,
    BillReader,
    BillSummary,
    InvalidBill,
    bill_format,
)

from .protocol import SHANGHAI

BILL_HEADER_FIRST = "支付宝交易号"
BILL_REQUIRED = (
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "完成时间",
    "订单金额(元)",
    "退款批次号/请求号",
    "服务费(元)",
)
BILL_PAYMENT, BILL_REFUND = "交易", "退款"
_BILL_TOTALS = re.compile(r"交易合计[:：]\s*(\d+)\s*笔[,，]\s*退款合计[:：]\s*(\d+)\s*笔")
_HEADER_SEARCH_ROWS = 50
_CHUNK = 1 << 16


def _member_name(info: zipfile.ZipInfo) -> str:
    """A member's real name: zips made on Chinese Windows name members in GBK without
    saying so (zipfile then decodes them as cp437)."""
    if info.flag_bits & 0x800:
        return info.filename
    try:
        return info.filename.encode("cp437").decode("gb18030")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return info.filename


def _bill_encoding(raw: BinaryIO) -> str:
    """UTF-8 when the start of the file is UTF-8 (a re-saved file), else GB18030 (a
    superset of the GBK Alipay writes). ``raw`` is rewound."""
    sample = raw.read(_CHUNK)
    raw.seek(0)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"


class AlipayBillReader(BillReader):
    """Alipay's trade detail bill (业务明细): ``#`` comment lines, the detail header
    (支付宝交易号,商户订单号,业务类型,…), one line per 交易 or 退款, then ``#`` lines
    with the totals (交易合计：N笔，退款合计：M笔). Columns are found by name."""

    def __init__(self, source: BinaryIO):
        kind = bill_format(source)
        if kind == "gzip":
            raise InvalidBill(_("This is a gzip file: Alipay bills are zip archives or CSV."))
        if kind == "zip":
            try:
                archive = zipfile.ZipFile(source)
                members = [
                    (info, _member_name(info))
                    for info in archive.infolist()
                    if _member_name(info).lower().endswith(".csv") and "汇总" not in _member_name(info)
                ]
                if not members:
                    raise InvalidBill(_("The archive holds no Alipay detail bill (业务明细 CSV)."))
                info = next((m for m, name in members if name.endswith("业务明细.csv")), members[0][0])
                raw = archive.open(info)
            except zipfile.BadZipFile as exc:
                raise InvalidBill(_("The zip archive is damaged: %(error)s") % {"error": exc}) from exc
        else:
            raw = source
        self._text = io.TextIOWrapper(raw, encoding=_bill_encoding(raw), errors="replace", newline="")
        self._rows = csv.reader(self._text)
        self.summary = None
        self.summary_problem = ""
        header = self._header()
        columns = {name.strip(): i for i, name in enumerate(header)}
        missing = [name for name in BILL_REQUIRED if name not in columns]
        if missing:
            raise InvalidBill(
                _("Not an Alipay trade bill: its header has no %(columns)s.")
                % {"columns": ", ".join(missing)}
            )
        self._columns, self._width = columns, len(header)

    def _next_row(self) -> list[str] | None:
        try:
            return next(self._rows)
        except StopIteration:
            return None
        except (OSError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise InvalidBill(_("The bill file is damaged: %(error)s") % {"error": exc}) from exc
        except csv.Error as exc:
            raise InvalidBill(
                _("Line %(line)s of the bill is not CSV: %(error)s")
                % {"line": self._rows.line_num, "error": exc}
            ) from exc

    def _header(self) -> list[str]:
        for _i in range(_HEADER_SEARCH_ROWS):
            row = self._next_row()
            if row is None:
                break
            cells = {cell.strip() for cell in row}
            if BILL_HEADER_FIRST in cells and "商户订单号" in cells:
                return row
        raise InvalidBill(_("Not an Alipay trade bill: no detail header (支付宝交易号,商户订单号,…) found."))

    def __iter__(self) -> Iterator[BillLine]:
        c = self._columns
        i_txn, i_trade, i_type, i_time, i_amount, i_request, i_fee = (c[name] for name in BILL_REQUIRED)
        width, comments = self._width, []
        while (row := self._next_row()) is not None:
            line_no = self._rows.line_num
            if not row or not any(cell.strip() for cell in row):
                continue
            if row[0].startswith("#"):
                comments.append(",".join(row))
                continue
            if comments:  # a line after the closing comments
                yield BillLine.invalid(line_no, "a line after the totals")
                continue
            if len(row) != width:
                yield BillLine.invalid(line_no, f"{len(row)} columns, the header has {width}")
                continue
            trade_no, kind = row[i_trade].strip(), row[i_type].strip()
            try:
                amount = abs(yuan_to_fen(row[i_amount].strip()))
                fee = abs(yuan_to_fen(row[i_fee].strip() or "0"))
                at = datetime.fromisoformat(row[i_time].strip()).replace(tzinfo=SHANGHAI)
                if kind not in (BILL_PAYMENT, BILL_REFUND):
                    raise ValueError(f"unknown 业务类型 {kind!r}")
            except ValueError as exc:
                line = BillLine.invalid(line_no, str(exc), trade_no=trade_no, status=kind)
            else:
                refund = kind == BILL_REFUND
                line = BillLine(
                    kind=BillLineKind.REFUND if refund else BillLineKind.PAYMENT,
                    line_no=line_no,
                    trade_no=trade_no,
                    txn_id=row[i_txn].strip(),
                    amount=amount,
                    # A fee is charged on a payment and given back on a refund, whichever
                    # sign the file prints it with.
                    fee=-fee if refund else fee,
                    status=kind,
                    refund_no=row[i_request].strip() if refund else "",
                    at=at,
                )
            yield line
        self._read_totals(comments)

    def _read_totals(self, comments: list[str]) -> None:
        for comment in comments:
            match = _BILL_TOTALS.search(comment)
            if match:
                payments, refunds = int(match[1]), int(match[2])
                self.summary = BillSummary(
                    lines=payments + refunds, payment_lines=payments, refund_lines=refunds
                )
                return
