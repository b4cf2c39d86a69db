"""End-to-end tests: a real browser (Debian's Chromium, driven by Playwright for Python)
against the live server, which also serves the gateway simulators.

* The browser is the machine's ``/usr/bin/chromium`` (``KPAY_E2E_CHROMIUM`` to use
  another), never Playwright's own download (``playwright install`` fetches a browser
  build from outside the package registries, which cannot work on these machines).
  Without it (or without the ``playwright`` package) the tests skip and say why; with
  ``CI=true`` they fail instead, as the PostgreSQL-only tests do (tests/conftest.py).
* Every request the browser makes goes through a route guard: anything whose host is
  not 127.0.0.1 or localhost is refused and fails the test. Nothing leaves the machine.
* The live server (pytest-django's ``live_server``, a free port) is where kpay's public
  URL and every simulator-backed gateway point (``live_simulators``), so a payment
  travels as in the demo: the cashier page, the simulator's signed notification over
  HTTP to the webhook, the pay page's poller.
* Playwright's sync API runs an asyncio loop in this thread while the browser is open,
  and Django refuses ORM calls where a loop runs ("async context"). The tests here call
  the ORM between browser steps, in this one thread, with no coroutine involved, so
  ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set while the browser is open (this package only)
  and restored after.
* Waiting is Playwright's: auto-waiting locators and ``expect`` with bounded timeouts;
  no sleeps.
"""

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = os.environ.get("KPAY_E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
TIMEOUT_MS = 15_000  # generous for a 2-core CI machine, bounded (pytest-timeout stops the rest)
PHONE = {"width": 390, "height": 844}  # an iPhone 12–14: the 390 px
PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "e2e-artifacts"


def _missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -r requirements-dev.txt)"
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)"
    return None


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"_e2e_{report.when}", report)


@pytest.fixture(scope="package")
def browser():
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"browser tests cannot run: {reason}. CI must run them")
        pytest.skip(f"browser tests skipped: {reason}")
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=60_000)
        yield browser
        browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class OutsideRequests(list):
    """The URLs the browser tried to reach outside the machine (each was refused)."""


@pytest.fixture
def new_context(browser, live_simulators, request):
    """Opens browser contexts (separate cookie jars: one per person) on the live server,
    in English, with the guard against outside requests; on a failure, each open page's
    URL, text and a screenshot are kept under var/e2e-artifacts/."""
    contexts = []
    outside = OutsideRequests()
    errors: list[str] = []

    def guard(route):
        host = urlsplit(route.request.url).hostname or ""
        if host in LOCAL_HOSTS or host.strip("[]") in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort("blockedbyclient")

    def open_context(*, phone: bool = False, **options):
        if phone:
            options = {
                "viewport": PHONE,
                "screen": PHONE,
                "device_scale_factor": 3,
                "is_mobile": True,
                "has_touch": True,
                "user_agent": PHONE_UA,
                **options,
            }
        context = browser.new_context(base_url=live_simulators.url, locale="en-US", **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        context.route("**/*", guard)
        context.on("page", lambda page: page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}")))
        contexts.append(context)
        return context

    open_context.outside_requests = outside
    yield open_context

    if getattr(getattr(request.node, "_e2e_call", None), "failed", False):
        _keep_artifacts(request.node.name, contexts)
    for context in contexts:
        context.close()
    assert not outside, f"the browser tried to leave the machine: {outside}"
    assert not errors, f"script errors on the pages: {errors}"


def _keep_artifacts(test_name: str, contexts) -> None:
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", test_name)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    for c, context in enumerate(contexts):
        for p, page in enumerate(context.pages):
            try:
                page.screenshot(path=str(folder / f"{c}-{p}.png"), full_page=True, timeout=5_000)
                text = page.locator("body").inner_text(timeout=5_000)
            except Exception as exc:  # the page may be gone: keep what we can
                text = f"(page unreadable: {exc})"
            print(f"--- context {c} page {p}: {page.url}\n{text[:3000]}")
    print(f"screenshots: {folder}")


@pytest.fixture
def context(new_context):
    return new_context()


@pytest.fixture
def page(context):
    return context.new_page()
