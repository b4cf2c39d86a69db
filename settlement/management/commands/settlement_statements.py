"""Make (or remake) daily statements for past days: a backfill, or a repair after a
late posting that ``ledger_check`` reported (``--regenerate``)."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError, no_translations
from django.utils.dateparse import parse_date

from core.errors import KpayError
from settlement.services import statements_generate


class Command(BaseCommand):
    help = "Make the daily statements of past days (local dates), from the journal."

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="first", required=True, help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="last", help="last day, YYYY-MM-DD (default: --from)")
        parser.add_argument(
            "--regenerate",
            action="store_true",
            help="bring existing statements back in line with the journal (else they are kept)",
        )

    @no_translations
    def handle(self, *args, first, last, regenerate, **options):
        try:
            start, end = parse_date(first or ""), parse_date(last or first or "")
        except ValueError:  # well-formed but impossible, e.g. 2026-02-30
            start = end = None
        if start is None or end is None or end < start:
            raise CommandError("--from and --to are dates (YYYY-MM-DD), --from first.")
        made = 0
        day = start
        while day <= end:
            try:
                made += len(statements_generate(period_start=day, regenerate=regenerate))
            except KpayError as exc:
                raise CommandError(f"{day}: {exc.message}") from exc
            day += timedelta(days=1)
        verb = "made or remade" if regenerate else "made"
        self.stdout.write(self.style.SUCCESS(f"{made} statements {verb} for {start} to {end}."))
