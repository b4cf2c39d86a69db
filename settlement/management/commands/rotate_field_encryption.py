"""Re-encrypt every payout's bank account number with the newest key.

Rotating ``KPAY_FIELD_ENCRYPTION_KEY``: put the new key first (the old one after it, so
stored numbers stay readable), deploy, run this, then drop the old key."""

from django.core.management.base import BaseCommand

from settlement.services import payout_accounts_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt stored bank account numbers with the first KPAY_FIELD_ENCRYPTION_KEY."

    def handle(self, *args, **options):
        count = payout_accounts_reencrypt()
        self.stdout.write(f"{count} account numbers re-encrypted with the newest key.")
