"""System checks: a misconfigured gateway is reported at startup, not at the first payment."""

from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.utils.module_loading import import_string

from .gateways.base import Gateway


@register(Tags.compatibility)
def check_gateways(app_configs=None, **kwargs):
    errors = []
    gateways = getattr(settings, "KPAY_GATEWAYS", {})
    if not isinstance(gateways, dict):
        return [Error("KPAY_GATEWAYS must be a dict of alias -> {BACKEND, OPTIONS}.", id="kpay.E001")]
    for alias, config in gateways.items():
        where = f"KPAY_GATEWAYS[{alias!r}]"
        if not isinstance(config, dict) or "BACKEND" not in config:
            errors.append(Error(f"{where} needs a BACKEND dotted path.", id="kpay.E002"))
            continue
        try:
            backend = import_string(config["BACKEND"])
        except ImportError as exc:
            errors.append(Error(f"{where}: cannot import {config['BACKEND']!r}: {exc}", id="kpay.E003"))
            continue
        if not (isinstance(backend, type) and issubclass(backend, Gateway)):
            errors.append(Error(f"{where}: {config['BACKEND']} is not a Gateway.", id="kpay.E004"))
            continue
        for problem in backend.check_options(config.get("OPTIONS", {})):
            errors.append(Error(f"{where}: {problem}", id="kpay.E005"))
        if getattr(settings, "KPAY_ENV", "") == "production":
            for name in _development_material(config.get("OPTIONS", {})):
                errors.append(
                    Error(
                        f"{where}: option {name!r} points at development key material, for the "
                        "simulators only; production needs real keys.",
                        id="kpay.E008",
                    )
                )
    if not settings.KPAY_PUBLIC_URL.startswith(("https://", "http://")):
        errors.append(Error("KPAY_PUBLIC_URL must be an absolute http(s) URL.", id="kpay.E006"))
    if getattr(settings, "KPAY_ENV", "") == "production" and not settings.KPAY_PUBLIC_URL.startswith(
        "https://"
    ):
        errors.append(Error("In production KPAY_PUBLIC_URL must use https.", id="kpay.E007"))
    return errors


# The file devtools leaves in a folder of development keys (devtools/keys.py names it too).
DEVELOPMENT_KEYS_MARKER = ".kpay-development-keys"


def _development_material(options) -> list[str]:
    """The options naming a file (or folder) in a folder of development key material."""
    found = []
    for name, value in options.items() if isinstance(options, dict) else ():
        if not (isinstance(value, str | Path) and str(value) and name.endswith(("_path", "_dir"))):
            continue
        path = Path(value)
        if (path / DEVELOPMENT_KEYS_MARKER).exists() or (path.parent / DEVELOPMENT_KEYS_MARKER).exists():
            found.append(name)
    return found
