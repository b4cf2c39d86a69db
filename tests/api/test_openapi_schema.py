"""The OpenAPI schema (/api/v1/schema/) says what the API does: paginated lists are
documented paginated, the 4xx answers are documented with the error shape, and request
bodies carry the constraints the API enforces (issue 11)."""

import jsonschema
import pytest

ERROR_REF = "#/components/schemas/Error"


@pytest.fixture(scope="module")
def openapi(django_db_blocker):
    from drf_spectacular.generators import SchemaGenerator

    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def resolve(openapi, schema):
    while "$ref" in schema:
        schema = openapi["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def inline(openapi, schema):
    """The schema with every $ref replaced by its component (for jsonschema)."""
    if isinstance(schema, dict):
        if "$ref" in schema:
            return inline(openapi, resolve(openapi, schema))
        return {k: inline(openapi, v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [inline(openapi, v) for v in schema]
    return schema


def operation(openapi, path, method):
    return openapi["paths"][f"/api/v1/{path}"][method]


def response_schema(openapi, path, method, status):
    return operation(openapi, path, method)["responses"][str(status)]["content"]["application/json"]["schema"]


def request_schema(openapi, path, method):
    return inline(
        openapi, operation(openapi, path, method)["requestBody"]["content"]["application/json"]["schema"]
    )


@pytest.mark.parametrize("path", ["orders/", "coupons/", "courses/"])
def test_paginated_lists_are_documented_paginated(openapi, path):
    schema = resolve(openapi, response_schema(openapi, path, "get", 200))
    assert schema["type"] == "object"
    assert {"count", "next", "previous", "results"} <= set(schema["properties"])
    assert schema["properties"]["results"]["type"] == "array"
    parameters = {p["name"] for p in operation(openapi, path, "get").get("parameters", [])}
    assert "page" in parameters


@pytest.mark.parametrize(
    "path, method, statuses",
    [
        ("orders/", "post", {400, 401, 403, 404, 409, 422}),
        ("orders/", "get", {401, 404}),
        ("orders/{order_no}/", "get", {401, 404}),
        ("orders/{order_no}/cancel/", "post", {401, 404, 409}),
        ("orders/{order_no}/pay/", "post", {400, 401, 404, 409, 422, 503}),
        ("orders/{order_no}/refunds/", "get", {401, 404}),
        ("orders/{order_no}/refunds/", "post", {400, 401, 404, 409, 422}),
        ("coupons/claim/", "post", {400, 401, 404, 409}),
        ("courses/{slug}/", "get", {404}),
        ("auth/token/", "post", {400, 429}),
        ("auth/tokens/{token_id}/", "delete", {401, 404}),
    ],
)
def test_error_answers_are_documented_with_the_error_shape(openapi, path, method, statuses):
    responses = operation(openapi, path, method)["responses"]
    assert statuses <= {int(s) for s in responses}
    for status in statuses:
        assert responses[str(status)]["content"]["application/json"]["schema"] == {"$ref": ERROR_REF}


def test_the_error_component_is_the_shape_the_api_answers(openapi):
    error = inline(openapi, {"$ref": ERROR_REF})
    jsonschema.validate({"error": {"code": "order_not_found", "message": "No such order."}}, error)
    jsonschema.validate(
        {
            "error": {
                "code": "invalid",
                "message": "…",
                "details": {"reason": ["This field may not be blank."]},
            }
        },
        error,
    )
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"detail": "Not found."}, error)


@pytest.mark.parametrize(
    "path, body",
    [
        ("orders/{order_no}/pay/", {"channel": ""}),
        ("orders/{order_no}/pay/", {"channel": "no-such-channel"}),
        ("orders/{order_no}/refunds/", {"reason": ""}),
        ("orders/{order_no}/refunds/", {"reason": "   "}),
        ("orders/{order_no}/refunds/", {"reason": "changed my mind", "amount": 0}),
        ("orders/", {"course": ""}),
    ],
)
def test_request_bodies_the_api_refuses_are_refused_by_the_schema(openapi, path, body):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(body, request_schema(openapi, path, "post"))


@pytest.mark.parametrize(
    "path, body",
    [
        ("orders/{order_no}/pay/", {"channel": "sandbox"}),
        ("orders/{order_no}/refunds/", {"reason": "changed my mind", "amount": 1}),
        ("orders/", {"course": "python-101", "coupon": "SPRING"}),
    ],
)
def test_request_bodies_the_api_takes_pass_the_schema(openapi, path, body):
    jsonschema.validate(body, request_schema(openapi, path, "post"))


def test_idempotency_key_and_auth_schemes_are_documented(openapi):
    parameters = {p["name"]: p for p in operation(openapi, "orders/{order_no}/pay/", "post")["parameters"]}
    assert parameters["Idempotency-Key"]["in"] == "header"
    assert {"tokenAuth", "cookieAuth"} <= set(openapi["components"]["securitySchemes"])


def test_a_path_no_route_takes_is_a_json_404(client):
    response = client.get("/api/v1/courses/not a slug/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": response.json()["error"]["message"]}}
    assert client.get("/api/v1/orders/a/b/c/d/").json()["error"]["code"] == "not_found"
    # A missing trailing slash is still redirected, not swallowed.
    assert client.get("/api/v1/courses").status_code == 301


def test_page_is_a_whole_number_from_one_in_the_schema_and_the_api(openapi, client, db):
    page = next(p for p in operation(openapi, "courses/", "get")["parameters"] if p["name"] == "page")
    assert page["schema"] == {"type": "integer", "minimum": 1}
    for value in ["", "last", "x", "0", "2.0"]:
        response = client.get("/api/v1/courses/", {"page": value})
        assert response.status_code == 404 and response.json()["error"]["code"] == "not_found", value
    assert client.get("/api/v1/courses/", {"page": "1"}).status_code == 200


def test_the_schema_is_valid_openapi_and_generates_without_warnings(tmp_path, db):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml"))
