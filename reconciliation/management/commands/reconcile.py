"""``manage.py reconcile [--gateway wechatpay] [--date 2026-11-23] [--file bill.csv.gz]``"""

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from core.errors import KpayError
from reconciliation import services
from reconciliation.models import ReconciliationRun


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--date {value!r}: use YYYY-MM-DD") from None


class Command(BaseCommand):
    help = (
        "Reconcile a gateway's bill of a day with kpay's payments and refunds: fetched from "
        "the gateway, or read from --file (a bill downloaded from the merchant platform)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--gateway", help="gateway alias (default: every gateway with bills)")
        parser.add_argument("--date", help="bill date, YYYY-MM-DD (default: yesterday, Beijing time)")
        parser.add_argument("--file", help="a bill file to read instead of fetching it (needs --gateway)")

    def handle(self, *args, gateway=None, date=None, file=None, **options):
        day = _day(date) if date else services.yesterday()
        try:
            if file:
                if not gateway:
                    raise CommandError("--file needs --gateway")
                path = Path(file)
                if not path.is_file():
                    raise CommandError(f"--file {file!r}: no such file")
                with path.open("rb") as bill:
                    runs = [
                        services.reconciliation_upload(
                            actor=None, gateway_alias=gateway, bill_date=day, file=bill, file_name=path.name
                        )
                    ]
            elif gateway:
                runs = [services.reconciliation_fetch(gateway_alias=gateway, bill_date=day)]
            else:
                runs = services.reconciliation_fetch_all(bill_date=day)
        except KpayError as exc:
            raise CommandError(str(exc.message)) from exc
        for run in runs:
            self.stdout.write(
                f"{run}: {run.status}: {run.lines} lines, {run.matched} matched, "
                f"{run.differences_found} differences, {run.repaired} repaired, "
                f"{run.fees_posted} fees posted" + (f"; {run.error}" if run.error else "")
            )
        if any(run.status == ReconciliationRun.Status.FAILED for run in runs):
            raise CommandError("a reconciliation failed")
