"""``manage.py ledger_check``: verify every invariant of the journal; exit 1 on any breach."""

from django.core.management.base import BaseCommand, CommandError

from payments.ledger import checks as ledger_check
from payments.models import JournalEntry


class Command(BaseCommand):
    help = "Verify the journal (交易流水) against itself and the records it mirrors; exit 1 on any breach."

    def handle(self, *args, **options):
        breaches = ledger_check.run()
        for breach in breaches:
            self.stderr.write(breach)
        if breaches:
            raise CommandError(f"{len(breaches)} breach(es) of the ledger's invariants")
        entries = JournalEntry.objects.count()
        checks = len(ledger_check.checks())
        self.stdout.write(self.style.SUCCESS(f"ledger OK: {checks} checks over {entries} entries"))
