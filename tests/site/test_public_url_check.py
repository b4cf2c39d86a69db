"""The development check that the public URL leads to the server being run (kpay.W001),
and the line a web process logs about it at startup."""

import importlib
import logging
import sys

import pytest
from django.core import checks

import kpay.startup
import kpay.wsgi
from kpay.startup import log_public_url
from payments.checks import public_url_problem, served_address


def _warnings(monkeypatch, settings, *, argv, public_url, env="development"):
    monkeypatch.setattr(sys, "argv", argv)
    settings.KPAY_PUBLIC_URL = public_url
    settings.KPAY_ENV = env
    return [message for message in checks.run_checks() if message.id == "kpay.W001"]


def test_runserver_on_another_port_than_the_public_url_is_warned(monkeypatch, settings):
    found = _warnings(
        monkeypatch,
        settings,
        argv=["manage.py", "runserver", "127.0.0.1:8040"],
        public_url="http://127.0.0.1:8000",
    )
    assert len(found) == 1
    warning = found[0]
    assert warning.level == checks.WARNING
    assert "port 8000" in warning.msg and "127.0.0.1:8040" in warning.msg
    assert "KPAY_PUBLIC_URL=http://127.0.0.1:8040" in warning.hint


def test_matching_public_url_is_not_warned(monkeypatch, settings):
    for argv, url in [
        (["manage.py", "runserver", "127.0.0.1:8040"], "http://127.0.0.1:8040"),
        (["manage.py", "runserver", "--noreload", "8040"], "http://localhost:8040"),
        (["manage.py", "runserver"], "http://127.0.0.1:8000"),
        (["manage.py", "runserver", "0.0.0.0:8105"], "http://127.0.0.1:8105"),
    ]:
        assert _warnings(monkeypatch, settings, argv=argv, public_url=url) == [], (argv, url)


def test_only_runserver_in_development_is_checked(monkeypatch, settings):
    # Other commands serve nothing the check could compare with.
    assert not _warnings(monkeypatch, settings, argv=["manage.py", "check"], public_url="http://127.0.0.1:1")
    # Production has its own rules (https, kpay.E007) and no runserver.
    assert not _warnings(
        monkeypatch,
        settings,
        argv=["manage.py", "runserver", "8040"],
        public_url="http://127.0.0.1:8000",
        env="production",
    )


@pytest.mark.parametrize(
    ("argv", "served"),
    [
        (["manage.py", "runserver"], ("127.0.0.1", 8000)),
        (["manage.py", "runserver", "8105"], ("127.0.0.1", 8105)),
        (["manage.py", "runserver", "0.0.0.0:9000", "--noreload"], ("0.0.0.0", 9000)),  # noqa: S104
        (["manage.py", "runserver", "--nostatic", "[::1]:8001"], ("::1", 8001)),
        (["manage.py", "runserver", "-6"], ("::1", 8000)),
        (["manage.py", "runserver", "not an address"], None),
        (["manage.py", "migrate"], None),
        (["manage.py"], None),
    ],
)
def test_served_address_is_read_as_runserver_reads_it(argv, served):
    assert served_address(argv) == served


@pytest.mark.parametrize(
    ("public_url", "served", "fragment"),
    [
        ("http://127.0.0.1:8000", ("127.0.0.1", 8040), "port 8000"),
        ("http://127.0.0.1", ("127.0.0.1", 8000), "port 80,"),
        ("https://127.0.0.1:8000", ("127.0.0.1", 8000), "https"),
        ("http://127.0.0.2:8000", ("127.0.0.1", 8000), "listens on 127.0.0.1:8000 only"),
        ("http://pay.example.com:8000", ("127.0.0.1", 8000), "not this machine"),
    ],
)
def test_public_url_problems_are_explained(public_url, served, fragment):
    problem = public_url_problem(public_url, served)
    assert problem is not None and fragment in problem


def test_web_process_logs_its_public_url_at_startup(settings, caplog, monkeypatch):
    settings.KPAY_PUBLIC_URL = "http://127.0.0.1:8105"
    caplog.set_level(logging.INFO, logger="kpay")
    log_public_url()
    assert next(record.getMessage() for record in caplog.records if record.name == "kpay").startswith(
        "Public URL: http://127.0.0.1:8105 "
    )

    # The WSGI application (gunicorn, and runserver when it starts) says it once loaded.
    called = []
    monkeypatch.setattr(kpay.startup, "log_public_url", lambda: called.append(True))
    importlib.reload(kpay.wsgi)
    assert called == [True]
