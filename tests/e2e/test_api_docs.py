"""The API docs render in the browser with no request leaving 127.0.0.1: Swagger UI and
ReDoc come from our static files (drf-spectacular-sidecar), and every request to another
host is refused by the guard (conftest.py), which fails the test."""

import re

from .helpers import expect


def test_swagger_ui_and_redoc_render_from_this_machine_alone(new_context):
    context = new_context()
    requested = []
    context.on("request", lambda request: requested.append(request.url))
    page = context.new_page()

    page.goto("/api/v1/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("kpay API")
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()
    orders = page.locator(".swagger-ui .opblock-summary-path", has_text="/api/v1/orders/")
    expect(orders.first).to_be_visible()

    page.get_by_test_id("redoc-link").click()
    expect(page).to_have_url(re.compile(r"/api/v1/redoc/$"))
    expect(page.get_by_role("heading", name=re.compile("kpay API")).first).to_be_visible()
    expect(page.locator("#redoc-container")).to_contain_text("/api/v1/orders/")
    page.get_by_test_id("swagger-link").click()
    expect(page).to_have_url(re.compile(r"/api/v1/docs/$"))
    expect(page.locator(".swagger-ui .opblock").first).to_be_visible()

    assert new_context.outside_requests == []
    loaded = {url.split("/static/", 1)[-1] for url in requested if "/static/" in url}
    assert "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in loaded
    assert "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js" in loaded


def test_the_guard_refuses_a_request_off_127_0_0_1(new_context):
    """The guard is not vacuous: a page asking another address (127.0.0.2 here, still
    loopback, so nothing could leave even if the guard failed) is refused and recorded."""
    page = new_context().new_page()
    page.goto("/")  # a site page (the docs pages' own policy would stop the probe before the guard)
    with page.expect_event("requestfailed") as failed:
        page.evaluate("() => { const img = new Image(); img.src = 'http://127.0.0.2:9/probe.png'; }")
    assert failed.value.url == "http://127.0.0.2:9/probe.png"
    assert new_context.outside_requests == ["http://127.0.0.2:9/probe.png"]
    new_context.outside_requests.clear()  # recorded as it should be: not a failure of this test
