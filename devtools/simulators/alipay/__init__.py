"""The Alipay open platform simulator (development and tests only)."""
