"""The journal's invariants, checked after every test that touched the database."""

from payments.ledger import checks as ledger_check


def assert_ledger_consistent() -> None:
    breaches = ledger_check.run()
    assert not breaches, "the ledger's invariants are broken:\n" + "\n".join(breaches)
