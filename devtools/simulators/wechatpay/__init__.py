"""The WeChat Pay API v3 simulator (development and tests only)."""
