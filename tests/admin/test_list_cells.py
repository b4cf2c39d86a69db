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


@pytest.mark.parametrize("fen", [None, 0, 1, 123456, -150, 10**12])
@pytest.mark.parametrize("signed", [False, True])
def test_an_amount_cell_is_format_htmls(fen, signed):
    from types import SimpleNamespace

    from django.utils.html import format_html

    from core.admin import yuan, yuan_column, yuan_html

    show = yuan_column("order__amount", "amount", signed=signed)
    row = SimpleNamespace(order=SimpleNamespace(amount=fen))
    expected = (
        "-"
        if fen is None
        else format_html('<span class="kpay-money">{}</span>', yuan_html(fen) if signed else yuan(fen))
    )
    shown = show(None, row)
    assert shown == expected and type(shown) is type(expected)


@pytest.mark.django_db
@pytest.mark.parametrize("label", [None, "<script>x</script> & 'co'", "中文"])
def test_a_link_cell_is_format_htmls(label, own_merchant):
    from django.utils.html import format_html

    from core.admin import admin_link
    from core.admin_urls import admin_change_url

    own_merchant.name = "<b>Ours</b> & co"
    url = admin_change_url(own_merchant._meta, own_merchant.pk)
    expected = format_html('<a href="{}">{}</a>', url, own_merchant if label is None else label)
    shown = admin_link(own_merchant, label)
    assert shown == expected and type(shown) is type(expected)
    assert "<script>" not in shown and "<b>Ours" not in shown
