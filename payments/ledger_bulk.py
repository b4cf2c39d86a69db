"""Old path of :mod:`payments.ledger.bulk`, the same module under its old name until every
caller imports the new one (reconciliation)."""

import sys

from payments.ledger import bulk

sys.modules[__name__] = bulk
