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
import re
import zlib
from collections.abc import Iterator
from datetime import datetime
from operator import itemgetter
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
    return value.removeprefix("`")


# The bill's usual amount: ASCII digits, a dot and two decimals, maybe a minus sign.
_PLAIN_YUAN = re.compile(r"-?[0-9]+\.[0-9]{2}").fullmatch


def _fen(yuan: str) -> int:
    """``yuan_to_fen`` for the bill's usual form (``"99.01"``, ``"-0.01"``): without a
    Decimal, the dot taken out and the rest read as an integer (``int`` alone would also
    take ``_`` and non-ASCII digits, hence the pattern). A million lines read two amounts
    each. Anything else goes to yuan_to_fen, which reads or refuses it."""
    if _PLAIN_YUAN(yuan):
        return int(yuan.replace(".", "", 1))
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
        # The refund columns, looked up once: (refund no, WeChat refund id, refund state,
        # refund amount); None where the bill's variant leaves one out.
        self._refund_columns = (
            columns.get("商户退款单号"),
            columns.get("微信退款单号"),
            columns.get("退款状态"),
            columns.get("退款金额", columns.get("申请退款金额")),
        )

    def _next_row(self) -> list[str] | None:
        try:
            return next(self._rows)
        except StopIteration:
            return None
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
            raise self._damaged(exc) from exc

    def _damaged(self, exc: Exception) -> InvalidBill:
        """What reading the next row raised, in the user's terms."""
        if isinstance(exc, UnicodeDecodeError):
            return InvalidBill(_("The bill is not UTF-8 text, as WeChat Pay bills are."))
        if isinstance(exc, csv.Error):
            return InvalidBill(
                _("Line %(line)s of the bill is not CSV: %(error)s")
                % {"line": self._rows.line_num, "error": exc}
            )
        # gzip.BadGzipFile is an OSError
        return InvalidBill(_("The bill file is damaged: %(error)s") % {"error": exc})

    def _header(self) -> list[str]:
        while (row := self._next_row()) is not None:
            if any(cell.strip() for cell in row):
                return row
        raise InvalidBill(_("The bill file is empty."))

    def __iter__(self) -> Iterator[BillLine]:
        # A million lines a day: the loop reads each row once, with the columns it needs
        # taken in one call, and parses a time once for the lines of the same second.
        c, rows, width = self._columns, self._rows, self._width
        payment_cells = itemgetter(*(c[name] for name in REQUIRED), self._amount)
        refunds = self.has_refunds
        last_time, last_at = None, None
        try:
            for row in rows:
                line_no = rows.line_num
                if not row or not any(row):
                    continue
                if SUMMARY_HEADER in row[0] and _cell(row[0]).strip() == SUMMARY_HEADER:
                    self._read_summary(row)
                    return
                if len(row) != width:
                    yield BillLine.invalid(line_no, f"{len(row)} columns, the header has {width}")
                    continue
                time, txn_id, trade_no, state, fee, amount = [
                    cell.removeprefix("`") for cell in payment_cells(row)
                ]
                try:
                    if time != last_time:
                        last_at = datetime.fromisoformat(time).replace(tzinfo=BEIJING)
                        last_time = time
                    if state == REFUND_STATE and refunds:
                        yield self._refund(row, line_no, trade_no, txn_id, _fen(fee), last_at)
                        continue
                    line = BillLine(
                        kind=BillLineKind.PAYMENT,
                        line_no=line_no,
                        trade_no=trade_no,
                        txn_id=txn_id,
                        amount=_fen(amount),
                        fee=_fen(fee),
                        status=state,
                        succeeded=state == SUCCESS,
                        at=last_at,
                    )
                except ValueError as exc:
                    line = BillLine.invalid(line_no, str(exc), trade_no=trade_no, status=state)
                yield line
        except (OSError, EOFError, zlib.error, UnicodeDecodeError, csv.Error) as exc:
            raise self._damaged(exc) from exc

    def _refund(self, row, line_no, trade_no, txn_id, fee, at) -> BillLine:
        i_refund_no, i_refund_id, i_refund_state, i_amount = self._refund_columns
        if i_amount is None:
            # A bill that lists refunds must say how much each returned; without the
            # column the line cannot be matched, so it is reported, not guessed.
            return BillLine.invalid(
                line_no,
                "a refund line, but the bill has no refund amount column",
                trade_no=trade_no,
                status=REFUND_STATE,
            )
        state = _cell(row[i_refund_state]) if i_refund_state is not None else SUCCESS
        return BillLine(
            kind=BillLineKind.REFUND,
            line_no=line_no,
            trade_no=trade_no,
            txn_id=txn_id,
            amount=abs(yuan_to_fen(_cell(row[i_amount]))),
            fee=fee,
            status=state,
            succeeded=state in (SUCCESS, ""),
            refund_no=_cell(row[i_refund_no]),
            refund_id=_cell(row[i_refund_id]) if i_refund_id is not None else "",
            at=at,
        )

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
