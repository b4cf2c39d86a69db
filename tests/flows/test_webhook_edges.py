from payments.models import GatewayEvent


def test_unknown_gateway_alias_is_404(client):
    assert (
        client.post("/payments/webhooks/nowhere/", data=b"{}", content_type="application/json").status_code
        == 404
    )


def test_webhook_only_accepts_post(client):
    assert client.get("/payments/webhooks/sandbox/").status_code == 405


def test_garbage_and_unsigned_bodies_are_rejected(client, sandbox, db):
    for body, headers in [
        (b"not json", {}),
        (b"{}", sandbox.headers(b"{}")),
        (b"[1]", sandbox.headers(b"[1]")),
    ]:
        response = client.post(
            "/payments/webhooks/sandbox/", data=body, content_type="application/json", **headers
        )
        assert response.status_code == 400
        assert response.json()["code"] == "FAIL"
    assert not GatewayEvent.objects.exists()


def test_notification_for_an_unknown_trade_is_refused(sandbox, db):
    class Ghost:
        payment_no = "P000000GHOST"
        amount = 100
        currency = "CNY"

    response = sandbox.post(sandbox.trade_event(Ghost()))
    assert response.status_code == 400
    assert not GatewayEvent.objects.exists()
