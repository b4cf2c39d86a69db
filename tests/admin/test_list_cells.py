"""Helpers the lists' cells call on every row, kept cheap: a payment channel's label
imports its gateway class once."""

import pytest

import payments.gateways as gateways


@pytest.mark.parametrize("channel", ["sandbox", "wechat_native", "alipay_page", "no-such-channel"])
def test_a_channel_label_imports_its_gateway_once(channel, monkeypatch):
    expected = gateways.channel_label(channel)
    imported = []
    import_string = gateways.import_string
    monkeypatch.setattr(gateways, "import_string", lambda path: imported.append(path) or import_string(path))
    gateways._backend_class.cache_clear()
    assert [gateways.channel_label(channel) for _ in range(3)] == [expected] * 3
    assert len(imported) <= 1


def test_a_channel_label_is_the_gateways_own():
    from payments.gateways.sandbox.gateway import SandboxGateway

    assert gateways.channel_label("sandbox") == str(SandboxGateway.channel_labels["sandbox"]) != "sandbox"
    assert gateways.channel_label("no-such-channel") == "no-such-channel"
