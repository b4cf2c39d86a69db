"""Gateway backends, configured by ``KPAY_GATEWAYS`` and resolved once per process.

``KPAY_GATEWAYS = {alias: {"BACKEND": "dotted.path.Class", "OPTIONS": {...}}}``;
each backend declares the payment channels it serves (``sandbox``, ``wechat_native`` …).
"""

from functools import cache

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from payments.exceptions import ChannelUnavailable, GatewayNotConfigured

from .base import Gateway
from .withholding import supports_withholding


@cache
def get_gateway(alias: str) -> Gateway:
    try:
        config = settings.KPAY_GATEWAYS[alias]
    except KeyError:
        raise GatewayNotConfigured() from None
    backend = import_string(config["BACKEND"])
    return backend(alias, **config.get("OPTIONS", {}))


@cache
def _channel_aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for alias, config in settings.KPAY_GATEWAYS.items():
        for channel in import_string(config["BACKEND"]).channels:
            aliases.setdefault(channel, alias)
    return aliases


def available_channels(*, payer_id_known: bool = True) -> list[str]:
    """Configured channels; without a payer id (a browser outside WeChat), only those
    that do not need one."""
    return [
        channel
        for channel, alias in _channel_aliases().items()
        if payer_id_known
        or channel not in import_string(settings.KPAY_GATEWAYS[alias]["BACKEND"]).payer_id_channels
    ]


def known_channels() -> list[str]:
    """Every channel a configured gateway can take payments by (withholding included),
    for the back office's filters: what there can be, without reading the payments."""
    return sorted({*_channel_aliases(), *_withholding_aliases()})


@cache
def _withholding_aliases() -> dict[str, str]:
    aliases: dict[str, str] = {}
    for alias in settings.KPAY_GATEWAYS:
        gateway = get_gateway(alias)
        if supports_withholding(gateway):
            for channel in gateway.withholding_channels:
                aliases.setdefault(channel, alias)
    return aliases


def available_withholding_channels() -> list[str]:
    """Configured channels that sign withholding agreements (automatic renewal)."""
    return list(_withholding_aliases())


def gateway_for_withholding_channel(channel: str) -> Gateway:
    try:
        alias = _withholding_aliases()[channel]
    except KeyError:
        raise ChannelUnavailable() from None
    return get_gateway(alias)


def channel_label(channel: str) -> str:
    """What learners see for ``channel``: the gateway's own label, else the channel's name."""
    alias = _channel_aliases().get(channel) or _withholding_aliases().get(channel)
    if alias is None:
        return channel
    backend = _backend_class(settings.KPAY_GATEWAYS[alias]["BACKEND"])
    return str(backend.channel_labels.get(channel, channel))


@cache
def _backend_class(path: str) -> type[Gateway]:
    """A gateway class by its dotted path, imported once (``channel_label`` is asked for
    every row of the payment and journal lists; ``import_string`` costs a few µs a call)."""
    return import_string(path)


def gateway_for_channel(channel: str) -> Gateway:
    try:
        alias = _channel_aliases()[channel]
    except KeyError:
        raise ChannelUnavailable() from None
    return get_gateway(alias)


def reset_gateways() -> None:
    get_gateway.cache_clear()
    _channel_aliases.cache_clear()
    _withholding_aliases.cache_clear()


@receiver(setting_changed)
def _reset_on_settings_change(*, setting, **kwargs):
    if setting in {"KPAY_GATEWAYS", "KPAY_PUBLIC_URL"}:
        reset_gateways()
