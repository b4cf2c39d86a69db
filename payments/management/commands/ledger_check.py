"""``manage.py ledger_check``: verify every invariant of the journal; exit 1 on any breach.

``--timings`` prints each check's wall time (slowest first) and the run's, to see which
invariant a growing journal makes expensive."""

import time

from django.core.management.base import BaseCommand, CommandError

from payments.ledger import checks as ledger_check
from payments.models import JournalEntry


class Command(BaseCommand):
    help = "Verify the journal (交易流水) against itself and the records it mirrors; exit 1 on any breach."

    def add_arguments(self, parser):
        parser.add_argument("--timings", action="store_true", help="print each check's wall time")

    def handle(self, *args, **options):
        timings: list[tuple[str, float]] = []
        started = time.perf_counter()
        breaches = ledger_check.run(timings=timings)
        elapsed = time.perf_counter() - started
        if options["timings"]:
            for name, seconds in sorted(timings, key=lambda timing: -timing[1]):
                self.stdout.write(f"{seconds:8.2f} s  {name}")
            self.stdout.write(f"{elapsed:8.2f} s  ({len(timings)} checks)")
        for breach in breaches:
            self.stderr.write(breach)
        if breaches:
            raise CommandError(f"{len(breaches)} breach(es) of the ledger's invariants")
        entries = JournalEntry.objects.count()
        checks = len(ledger_check.checks())
        self.stdout.write(self.style.SUCCESS(f"ledger OK: {checks} checks over {entries} entries"))
