"""Doing what a payer does at a simulated gateway's cashier, over real HTTP."""

import re
import time

import httpx


def cashier_url(payment) -> str:
    """The http(s) page a payer opens: the QR code's URL, or the redirect (WeChat's code is weixin://)."""
    action = payment.action
    return next(url for url in (action["code_url"], action["redirect_url"]) if url.startswith("http"))


def press(url: str, action: str, *, follow_redirects: bool = False) -> httpx.Response:
    """Open the cashier page (scan the code) and press ``action`` ("pay" or "decline")."""
    with httpx.Client(timeout=10, follow_redirects=follow_redirects) as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text[:300]
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        return browser.post(
            url, data={"csrfmiddlewaretoken": token, "action": action}, headers={"Referer": url}
        )


def wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False
