"""The API's documentation pages: Swagger UI and ReDoc, served from our own static files
(drf-spectacular-sidecar, ``SPECTACULAR_SETTINGS``), each linking to the other.

Each page also says, in a Content-Security-Policy, that the browser may fetch nothing from
another host: ReDoc's bundle hard-codes its vendor's logo on a CDN, which the policy
refuses before any request is made (the image is then left out). The docs therefore
render offline and from mainland China, where public CDNs are slow or unreachable."""

from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerView

# Inline scripts and styles: the pages' own initialisation and the bundles' styled
# components. blob: workers: ReDoc's search index.
DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "frame-ancestors 'none'",
        "base-uri 'self'",
        "form-action 'self'",
    )
)


class _LocalOnly:
    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_CSP
        return response


class SwaggerView(_LocalOnly, SpectacularSwaggerView):
    template_name = "api/swagger_ui.html"


class RedocView(_LocalOnly, SpectacularRedocView):
    template_name = "api/redoc.html"
