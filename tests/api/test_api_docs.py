"""The API docs (Swagger UI and ReDoc) come from our own static files: no CDN, no web
fonts, nothing a browser must fetch from another host (issue 14). The browser test that
renders them with every outside request refused is tests/e2e/test_api_docs.py."""

from html.parser import HTMLParser

import pytest
from django.contrib.staticfiles import finders
from django.urls import resolve

pytestmark = pytest.mark.django_db

DOCS = "/api/v1/docs/"
REDOC = "/api/v1/redoc/"


class _References(HTMLParser):
    """Every URL the page makes a browser fetch or follow: src, href (and srcset)."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href", "srcset", "data-src") and value:
                self.urls.append((tag, value))


def references(html: str) -> list[tuple[str, str]]:
    parser = _References()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("url", [DOCS, REDOC])
def test_the_docs_reference_only_our_own_static_files_and_pages(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    urls = references(html)
    scripts = [value for tag, value in urls if tag == "script"]
    assert scripts and all(s.startswith("/static/drf_spectacular_sidecar/") for s in scripts), scripts
    for tag, value in urls:
        assert value.startswith("/") and not value.startswith("//"), (tag, value)
        path = value.split("?")[0]
        if path.startswith("/static/"):
            assert finders.find(path.removeprefix("/static/")), f"{value} is not one of our static files"
        else:
            resolve(path)  # one of our pages (raises Resolver404 otherwise)
    # Nor in inline scripts and styles: no absolute URL at all (CDNs, Google Fonts, validator).
    for needle in ("http://", "https://", "//cdn", "fonts.googleapis", "jsdelivr", "unpkg"):
        assert needle not in html, needle


def test_swagger_ui_and_redoc_link_to_each_other(client):
    docs = dict((value, tag) for tag, value in references(client.get(DOCS).content.decode()))
    redoc = dict((value, tag) for tag, value in references(client.get(REDOC).content.decode()))
    assert docs.get(REDOC) == "a" and redoc.get(DOCS) == "a"
    assert "/api/v1/schema/" in docs and "/api/v1/schema/" in redoc


@pytest.mark.parametrize("url", [DOCS, REDOC])
def test_the_docs_tell_the_browser_to_fetch_nothing_from_another_host(client, url):
    """ReDoc's bundle asks a CDN for its vendor's logo by itself; the page's policy stops it."""
    policy = dict(
        part.strip().split(" ", 1) for part in client.get(url)["Content-Security-Policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    for directive in ("script-src", "style-src", "img-src", "font-src", "connect-src"):
        sources = policy[directive].split()
        assert "'self'" in sources and all(s in ("'self'", "'unsafe-inline'", "data:") for s in sources)


def test_the_sidecar_bundles_are_found_by_staticfiles():
    """runserver (and whitenoise in production) serve the sidecar's files: the finders must
    know them, or the pages would be blank again."""
    for name in (
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
        "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
        "css/api-docs.css",
    ):
        assert finders.find(name), name
