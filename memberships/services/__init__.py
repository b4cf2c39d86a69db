"""Every write to memberships, by sub-domain: ``purchase`` (plans bought through the
checkout, periods granted on delivery)."""
