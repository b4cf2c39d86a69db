"""Reading WeChat Pay's trade bill (交易账单), streamed line by line.

The file is UTF-8 CSV (gzip when downloaded with ``tar_type=GZIP``): a header, one
line per payment or refund with every value prefixed by a backtick, then a summary
header (总交易单数,…) and its one value row. Amounts are yuan decimals. The ALL bill
has 27 columns; the SUCCESS variant leaves the refund columns out, so columns are
found by name, never by position.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from collections.abc import Iterator
from datetime import datetime
from typing import BinaryIO

from django.utils.translation import gettext as _

from core.money import yuan_to_fen
from payments.gateways.base import (
    BillLine,
    BillLineKind,
    BillReader,
    BillSummary,
    InvalidBill,
    bill_format,
)

from .protocol import BEIJING

REQUIRED = ("交易时间", "微信订单号", "商户订单号", "交易状态", "手续费")
# The payment's total: 订单金额 (total, coupons included), else 应结订单金额 (settled).
AMOUNT_COLUMNS = ("订单金额", "应结订单金额")
SUMMARY_HEADER = "总交易单数"
REFUND_STATE = "REFUND"
SUCCESS = "SUCCESS"


def _cell(value: str) -> str:
    return value[1:] if value[:1] == "`" else value


def _fen(yuan: str) -> int:
    """``yuan_to_fen`` for the bill's usual form (``"99.01"``, ``"-0.01"``), without a
    Decimal: a million lines read two amounts each. Anything else goes to yuan_to_fen."""
    negative = yuan[:1] == "-"
    whole, dot, cents = (yuan[1:] if negative else yuan).partition(".")
    if dot and len(cents) == 2 and whole.isdecimal() and cents.isdecimal():
        fen = int(whole) * 100 + int(cents)
        return -fen if negative else fen
    return yuan_to_fen(yuan)


class WeChatPayBillReader(BillReader):
    def __init__(self, source: BinaryIO):
        kind = bill_format(source)
        if kind == "zip":
            raise InvalidBill(_("This is a zip archive: WeChat Pay bills are CSV or gzip."))
        raw = gzip.GzipFile(fileobj=source, mode="rb") if kind == "gzip" else source
        self._text = io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")
        self._rows = csv.reader(self._text)
        self.summary = None
        self.summary_problem = ""
        header = self._header()
        columns = {name.strip().lstrip("`"): i for i, name in enumerate(header)}
        missing = [name for name in REQUIRED if name not in columns]
        amount = next((name for name in AMOUNT_COLUMNS if name in columns), None)
        if missing or amount is None:
            raise InvalidBill(
                _("Not a WeChat Pay trade bill: its header has no %(columns)s.")
                % {"columns": ", ".join(missing or AMOUNT_COLUMNS)}
            )
        self._width = len(header)
        self._columns = columns
        self._amount = columns[amount]
        self.has_refunds = "商户退款单号" in columns

    def _next_row(self) -> list[str] | None:
        try:
            return next(self._rows)
        except StopIteration:
            return None
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise InvalidBill(_("The bill file is damaged: %(error)s") % {"error": exc}) from exc
        except UnicodeDecodeError as exc:
            raise InvalidBill(_("The bill is not UTF-8 text, as WeChat Pay bills are.")) from exc
        except csv.Error as exc:
            raise InvalidBill(
                _("Line %(line)s of the bill is not CSV: %(error)s")
                % {"line": self._rows.line_num, "error": exc}
            ) from exc

    def _header(self) -> list[str]:
        while (row := self._next_row()) is not None:
            if any(cell.strip() for cell in row):
                return row
        raise InvalidBill(_("The bill file is empty."))

    def __iter__(self) -> Iterator[BillLine]:
        c = self._columns
        i_time, i_txn, i_trade, i_state, i_fee = (c[name] for name in REQUIRED)
        i_amount, width = self._amount, self._width
        i_refund_no, i_refund_id = c.get("商户退款单号"), c.get("微信退款单号")
        i_refund_amount = c.get("退款金额", c.get("申请退款金额"))
        i_refund_state = c.get("退款状态")
        while (row := self._next_row()) is not None:
            line_no = self._rows.line_num
            if not row or not any(row):
                continue
            if _cell(row[0]).strip() == SUMMARY_HEADER:
                self._read_summary(row)
                return
            if len(row) != width:
                yield BillLine.invalid(line_no, f"{len(row)} columns, the header has {width}")
                continue
            trade_no, state = _cell(row[i_trade]), _cell(row[i_state])
            try:
                at = datetime.fromisoformat(_cell(row[i_time])).replace(tzinfo=BEIJING)
                fee = _fen(_cell(row[i_fee]))
                if state == REFUND_STATE and i_refund_no is not None:
                    refund_state = _cell(row[i_refund_state]) if i_refund_state is not None else SUCCESS
                    line = BillLine(
                        kind=BillLineKind.REFUND,
                        line_no=line_no,
                        trade_no=trade_no,
                        txn_id=_cell(row[i_txn]),
                        amount=abs(yuan_to_fen(_cell(row[i_refund_amount]))),
                        fee=fee,
                        status=refund_state,
                        succeeded=refund_state in (SUCCESS, ""),
                        refund_no=_cell(row[i_refund_no]),
                        refund_id=_cell(row[i_refund_id]) if i_refund_id is not None else "",
                        at=at,
                    )
                else:
                    line = BillLine(
                        kind=BillLineKind.PAYMENT,
                        line_no=line_no,
                        trade_no=trade_no,
                        txn_id=_cell(row[i_txn]),
                        amount=_fen(_cell(row[i_amount])),
                        fee=fee,
                        status=state,
                        succeeded=state == SUCCESS,
                        at=at,
                    )
            except ValueError as exc:
                line = BillLine.invalid(line_no, str(exc), trade_no=trade_no, status=state)
            yield line

    def _read_summary(self, header: list[str]) -> None:
        names = [_cell(name).strip() for name in header]
        values = self._next_row()
        if values is None or len(values) != len(names):
            self.summary_problem = "the summary header has no value row"
            return
        figures = dict(zip(names, (_cell(v).strip() for v in values), strict=True))
        try:
            self.summary = BillSummary(
                lines=int(figures[SUMMARY_HEADER]),
                payments_total=_optional_fen(figures, "订单总金额"),
                refunds_total=_optional_fen(figures, "退款总金额"),
                fees_total=_optional_fen(figures, "手续费总金额"),
            )
        except (KeyError, ValueError) as exc:
            self.summary_problem = f"unreadable summary: {exc}"


def _optional_fen(figures: dict[str, str], name: str) -> int | None:
    return yuan_to_fen(figures[name]) if name in figures else None
