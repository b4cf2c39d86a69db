"""Old path of :mod:`payments.ledger.checks`, the same module under its old name until every
caller imports the new one (settlement, reconciliation's benchmark, tests/ledger_checks.py)."""

import sys

from payments.ledger import checks

sys.modules[__name__] = checks
