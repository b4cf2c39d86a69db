"""What the OpenAPI schema says about errors: one ``Error`` component, and the 4xx/5xx
answers each endpoint gives, so the schema tells the truth (schemathesis checks it in CI,
tests/api/test_schemathesis.py).

Per endpoint, declare what *it* can answer with :func:`error_responses`::

    @extend_schema(responses={201: OrderOutput, **error_responses(404, 409)})

What every endpoint of a kind answers is added by :func:`add_common_error_responses`
(``SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]``): 401/403 to every operation that needs
credentials, 400/413 to every operation that takes a body; an endpoint's own description
of the same status wins.
"""

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

ERROR_COMPONENT = "Error"


class ErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable machine code, e.g. `invalid`, `order_not_found`.")
    message = serializers.CharField(help_text="Safe to show to the person who sent the request.")
    details = serializers.DictField(
        required=False,
        help_text="With `invalid`: each field (or `non_field_errors`) and what is wrong with it.",
    )


class ErrorSerializer(serializers.Serializer):
    """Every API error: ``{"error": {"code", "message", "details"?}}``."""

    error = ErrorBodySerializer()

    class Meta:
        ref_name = ERROR_COMPONENT


# What each status means in this API (an endpoint may say more with its own description).
STATUS_DESCRIPTIONS = {
    400: "`invalid` (see `details`), `parse_error` (the body is not JSON, or is nested too deeply),"
    " `invalid_idempotency_key`",
    401: "`not_authenticated` / `authentication_failed`: no token, or an expired or revoked one",
    403: "`permission_denied` (e.g. a session request without its CSRF token)",
    404: "`not_found`: no such object, or not yours",
    409: "The object's state does not allow it",
    413: "`request_too_large`",
    415: "`unsupported_media_type`",
    422: "`idempotency_key_reused`: this Idempotency-Key was used with another request",
    429: "`throttled`: too many requests; see `Retry-After`",
    502: "The payment gateway answered with an error",
    503: "The payment gateway cannot be reached (`gateway_unavailable`), or is not configured",
}

# What the ``@idempotent`` decorator itself may answer (core.api.idempotency).
IDEMPOTENCY_ERRORS = {
    400: "`invalid_idempotency_key`: longer than 255 characters",
    409: "`idempotency_key_in_progress`: a request with this key is still running; retry shortly",
    422: STATUS_DESCRIPTIONS[422],
}


def error_response(description: str, examples=()) -> OpenApiResponse:
    return OpenApiResponse(
        response=ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(code, value={"error": {"code": code, "message": str(message)}})
            for code, message in examples
        ],
    )


def error_responses(*statuses, **described) -> dict:
    """OpenAPI responses for the given HTTP statuses, each with the ``Error`` shape.

    ``statuses`` take the standard description; ``described`` maps ``"409"`` style keys
    (or use a dict passed positionally) to a description of what this endpoint means by it."""
    out = {}
    for status in statuses:
        if isinstance(status, dict):
            for code, description in status.items():
                out[int(code)] = _merge(out.get(int(code)), description)
        else:
            out[int(status)] = _merge(out.get(int(status)), STATUS_DESCRIPTIONS[int(status)])
    for code, description in described.items():
        out[int(code.lstrip("_"))] = _merge(out.get(int(code.lstrip("_"))), description)
    return out


def _merge(existing, description) -> OpenApiResponse:
    if isinstance(description, OpenApiResponse):
        return description
    if existing is None:
        return error_response(description)
    return error_response(f"{existing.description}; {description}")


def idempotent_error_responses(*statuses, **described) -> dict:
    """:func:`error_responses` plus what an ``Idempotency-Key`` may add (400, 409, 422)."""
    return error_responses(IDEMPOTENCY_ERRORS, *statuses, **described)


def _error_content():
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}


def add_common_error_responses(result, generator, request, public):
    """Postprocessing hook: the answers every endpoint of a kind gives."""
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in {"get", "post", "put", "patch", "delete"}:
                continue
            responses = operation.setdefault("responses", {})
            common = []
            if any(operation.get("security", [])):
                # Credentials are read even where none are needed: a bad token is a 401.
                common += [401, 403]
            if "requestBody" in operation:
                common += [400, 413, 415]
            for status in common:
                responses.setdefault(
                    str(status), {"content": _error_content(), "description": STATUS_DESCRIPTIONS[status]}
                )
    return result


class NonBlankCharField(serializers.CharField):
    """A CharField the schema says may not be blank (DRF refuses blank and all-whitespace
    strings by default, but drf-spectacular does not say so)."""


class NonBlankCharFieldExtension(OpenApiSerializerFieldExtension):
    target_class = NonBlankCharField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        if direction == "request":
            schema.setdefault("minLength", 1)
            schema["pattern"] = r"\S"  # at least one character that is not whitespace
        return schema


def merge_responses(*groups: dict) -> dict:
    """Several ``{status: OpenApiResponse}`` dicts as one: where two describe the same
    status, their descriptions and examples are joined (a plain ``**a, **b`` loses ``a``'s)."""
    out: dict = {}
    for group in groups:
        for status, response in group.items():
            earlier = out.get(status)
            if earlier is None or not isinstance(earlier, OpenApiResponse):
                out[status] = response
                continue
            out[status] = OpenApiResponse(
                response=earlier.response,
                description="; ".join(d for d in (earlier.description, response.description) if d),
                examples=[*(earlier.examples or []), *(response.examples or [])],
            )
    return out


class PositiveAmountField(serializers.IntegerField):
    """An amount in fen that the schema says is at least 1, while the service refuses less
    with its own error code (e.g. ``invalid_refund_amount``) rather than the serializer's."""


class PositiveAmountFieldExtension(OpenApiSerializerFieldExtension):
    target_class = PositiveAmountField

    def map_serializer_field(self, auto_schema, direction):
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        schema["minimum"] = 1
        return schema
