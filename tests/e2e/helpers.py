"""What people do in the browser, written once: learners and staff logging in, paying at a
simulated cashier, and the phone-layout check.

Selectors are roles, labels and form field names (the site's HTML contract: ``channel``,
``amount``, ``reason``), and links by where they lead, not by wording other work may
change."""

import os
import re
from urllib.parse import urlsplit

from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

try:
    from playwright.sync_api import Page, expect
except ImportError:  # the browser fixture skips (or, in CI, fails) and says why
    Page = expect = None

from orders.models import Order
from orders.services import order_checkout
from payments.services import payment_start
from tests.cashier import cashier_url, press, wait_for

PASSWORD = "pw-learner-123"  # tests.factories.UserFactory's
USERNAME, PASSWORD_LABEL = re.compile(r"^Username:?$"), re.compile(r"^Password:?$")
LOG_IN = re.compile(r"^Log in$", re.I)


def log_in(page: Page, user, next_url: str = "/") -> None:
    """The site's login form, as a learner fills it in."""
    page.goto(f"/accounts/login/?next={next_url}")
    page.get_by_label(USERNAME).fill(user.username)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_role("button", name=LOG_IN).click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def admin_log_in(page: Page, user) -> None:
    """The admin login with the staff second factor: password and the current code of the
    user's authenticator (a TOTP device made here, as enrolment would)."""
    device, _ = TOTPDevice.objects.get_or_create(user=user, name="phone", defaults={"confirmed": True})
    code = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
    page.goto("/admin/login/?next=/admin/")
    page.get_by_label(USERNAME).fill(user.username)
    page.get_by_label(PASSWORD_LABEL).fill(PASSWORD)
    page.get_by_label(re.compile(r"^Authenticator code:?$")).fill(code)
    page.get_by_role("button", name=LOG_IN).click()
    expect(page).not_to_have_url(re.compile(r"/admin/login/"))


def pay_at_cashier(page: Page, action: str = "pay") -> None:
    """On a simulator's cashier page, press Pay (or Decline), and see it answered."""
    page.locator(f"button[name=action][value={action}]").click()
    expect(page.locator("#state")).to_be_visible()


def cashier_link(page: Page):
    """The pay page's way to the cashier on this device: a link to the gateway simulator."""
    return page.locator('main a[href*="/simulators/"]').first


def choose_channel_and_pay(page: Page, channel: str) -> None:
    form = page.locator("main form:has(input[name=channel])")
    form.locator(f"input[name=channel][value={channel}]").check()
    form.locator("[type=submit]").click()


def buy_over_http(learner, course, channel: str = "sandbox") -> Order:
    """A paid and delivered order, bought through the services and paid at the simulator's
    cashier over HTTP (as tests/refunds do): the set-up for tests about what comes after."""
    order = order_checkout(learner=learner, course_slug=course.slug).order
    payment = payment_start(learner=learner, order_no=order.order_no, channel=channel)
    assert press(cashier_url(payment), "pay").status_code == 200
    assert wait_for(lambda: Order.objects.get(pk=order.pk).status == Order.Status.FULFILLED)
    order.refresh_from_db()
    return order


OVERFLOW_JS = """() => {
  const width = document.documentElement.clientWidth;
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.classList.length ? '.' + [...el.classList].join('.') : '') +
    ' "' + (el.innerText || '').trim().slice(0, 40) + '"';
  const offenders = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not rendered
    if (box.width > width + 0.5 || box.right > width + 0.5 || box.left < -0.5) {
      offenders.push(describe(el) + ' [' + Math.round(box.left) + ', ' + Math.round(box.right) + ']');
    }
    // A box that clips or scrolls its content sideways (a table in its wrapper) and has more
    // than it shows: that content is cut off. (A text field scrolling its own text is fine.)
    if (['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName)) continue;
    if (getComputedStyle(el).overflowX !== 'visible' && el.scrollWidth > el.clientWidth + 1) {
      offenders.push(describe(el) + ' cuts off its content: ' + el.scrollWidth + ' > ' + el.clientWidth);
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, clientWidth: width, offenders};
}"""


def assert_fits_the_screen(page: Page) -> None:
    """Nothing scrolls sideways, no element is wider than the viewport or sticks out of it,
    and no box cuts off its content (a table one must scroll sideways inside its card)."""
    page.wait_for_load_state("load")
    if os.environ.get("KPAY_E2E_SCREENSHOTS"):  # a folder: to look at the pages checked
        name = re.sub(r"[^\w]+", "_", urlsplit(page.url).path).strip("_") or "home"
        page.screenshot(path=os.path.join(os.environ["KPAY_E2E_SCREENSHOTS"], f"{name}.png"), full_page=True)
    result = page.evaluate(OVERFLOW_JS)
    assert result["scrollWidth"] <= result["clientWidth"], (page.url, result)
    assert not result["offenders"], (page.url, result["offenders"][:10])
