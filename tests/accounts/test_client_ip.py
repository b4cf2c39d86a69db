"""core.http.client_ip: forwarding headers believed from configured proxies only."""

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from core.http import ClientInfo, ClientIpLogFilter, client_info, client_ip, parse_trusted_proxies

rf = RequestFactory()


def request(remote="203.0.113.7", xff=None, **extra):
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return rf.get("/", REMOTE_ADDR=remote, **extra)


def test_without_trusted_proxies_forwarding_headers_are_ignored(settings):
    settings.KPAY_TRUSTED_PROXIES = []
    assert client_ip(request(xff="1.2.3.4")) == "203.0.113.7"
    assert client_ip(request(xff="1.2.3.4, 5.6.7.8")) == "203.0.113.7"
    assert client_ip(request()) == "203.0.113.7"


def test_an_untrusted_peer_cannot_spoof_even_when_proxies_are_configured(settings):
    settings.KPAY_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request(remote="198.51.100.9", xff="10.1.1.1, 1.2.3.4")) == "198.51.100.9"


def test_behind_a_trusted_proxy_the_client_is_the_rightmost_untrusted_hop(settings):
    settings.KPAY_TRUSTED_PROXIES = ["10.0.0.0/8", "192.168.1.5"]
    # The client sent "X-Forwarded-For: 6.6.6.6" itself; our proxy appended what it saw.
    assert client_ip(request(remote="10.0.0.2", xff="6.6.6.6, 198.51.100.20")) == "198.51.100.20"
    # Two trusted proxies in a row (CDN 192.168.1.5 → LB 10.0.0.2 → us).
    assert client_ip(request(remote="10.0.0.2", xff="6.6.6.6, 198.51.100.20, 192.168.1.5")) == "198.51.100.20"
    # The proxy itself, with no header: the proxy is the client.
    assert client_ip(request(remote="10.0.0.2")) == "10.0.0.2"
    # Every hop trusted: the leftmost is the best we know.
    assert client_ip(request(remote="10.0.0.2", xff="10.9.9.9")) == "10.9.9.9"


def test_garbage_ports_and_ipv6(settings):
    settings.KPAY_TRUSTED_PROXIES = ["10.0.0.0/8", "2001:db8::/32"]
    assert client_ip(request(remote="10.0.0.2", xff="not-an-ip")) == "10.0.0.2"
    assert client_ip(request(remote="10.0.0.2", xff="evil, garbage, 10.0.0.3")) == "10.0.0.3"
    assert client_ip(request(remote="10.0.0.2", xff="198.51.100.1:4711")) == "198.51.100.1"
    v6 = request(remote="2001:db8::1", xff="[2001:db8:ffff::9]:443, 2400:cb00::1")
    assert client_ip(v6) == "2400:cb00::1"
    assert client_ip(request(remote="::ffff:10.0.0.2", xff="198.51.100.1")) == "198.51.100.1"
    assert client_ip(request(remote="")) is None


def test_a_bad_trusted_proxy_entry_is_refused():
    with pytest.raises(ImproperlyConfigured, match="KPAY_TRUSTED_PROXIES"):
        parse_trusted_proxies(["10.0.0.0/8", "proxy.example.com"])


def test_client_info_carries_the_same_ip(settings):
    settings.KPAY_TRUSTED_PROXIES = ["10.0.0.2"]
    info = client_info(request(remote="10.0.0.2", xff="1.1.1.1, 198.51.100.20", HTTP_X_DEVICE_ID="d1"))
    assert info == ClientInfo(ip="198.51.100.20", device_id="d1")
    settings.KPAY_TRUSTED_PROXIES = []
    assert client_info(request(remote="10.0.0.2", xff="198.51.100.20")).ip == "10.0.0.2"


def test_log_records_carry_the_client_ip(settings, client, db):
    settings.KPAY_TRUSTED_PROXIES = ["10.0.0.2"]
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    record.request = request(remote="10.0.0.2", xff="6.6.6.6, 198.51.100.20")
    assert ClientIpLogFilter().filter(record) and record.client_ip == "198.51.100.20"

    outside = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    ClientIpLogFilter().filter(outside)
    assert outside.client_ip == "-"


def test_logs_inside_a_request_carry_the_client_ip(settings, client, db, monkeypatch):
    """The middleware makes the IP known to every log line written while the request runs."""
    import core.http

    seen = []

    def spy(request, default):
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
        ClientIpLogFilter().filter(record)
        seen.append(record.client_ip)
        return "/"

    monkeypatch.setattr("accounts.views.next_url", spy)
    settings.KPAY_TRUSTED_PROXIES = ["10.0.0.2"]
    client.get("/accounts/signup/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.20")
    assert seen == ["198.51.100.20"]
    assert core.http._current_client_ip.get() is None


def test_rotating_x_forwarded_for_no_longer_escapes_the_token_throttle(api_client, learner):
    statuses = [
        api_client.post(
            "/api/v1/auth/token/",
            {"username": f"nobody-{i}", "password": "wrong"},
            REMOTE_ADDR="198.51.100.9",
            HTTP_X_FORWARDED_FOR=f"192.0.2.{i}",
        ).status_code
        for i in range(11)
    ]
    assert statuses == [400] * 10 + [429]


def test_behind_a_trusted_proxy_each_client_has_its_own_throttle(api_client, learner, settings):
    settings.KPAY_TRUSTED_PROXIES = ["10.0.0.2"]

    def attempt(client_address, spoofed="6.6.6.6"):
        attempt.count += 1
        return api_client.post(
            "/api/v1/auth/token/",
            {"username": f"nobody-{attempt.count}", "password": "wrong"},
            REMOTE_ADDR="10.0.0.2",
            HTTP_X_FORWARDED_FOR=f"{spoofed}, {client_address}",
        ).status_code

    attempt.count = 0
    assert [attempt("198.51.100.1", spoofed=f"6.6.6.{i}") for i in range(11)] == [400] * 10 + [429]
    assert attempt("198.51.100.2") == 400  # another client behind the same proxy
