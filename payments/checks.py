"""System checks: a misconfigured gateway is reported at startup, not at the first payment,
and in development a public URL that does not lead back to the server being run."""

import ipaddress
import socket
import sys
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.management.commands.runserver import Command as RunserverCommand
from django.core.management.commands.runserver import naiveip_re
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
        check_warnings = getattr(backend, "check_warnings", None)
        for problem in check_warnings(config.get("OPTIONS", {})) if check_warnings else ():
            errors.append(Warning(f"{where}: {problem}", id="kpay.W002"))
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


# -- the public URL in development -------------------------------------------------------------


def served_address(argv: list[str]) -> tuple[str, int] | None:
    """The (host, port) ``manage.py runserver`` serves, read from its command line as
    runserver reads it; None for any other command (what they serve is not known)."""
    if len(argv) < 2 or argv[1] != "runserver":
        return None
    parser = RunserverCommand().create_parser(argv[0], "runserver")
    options, _unknown = parser.parse_known_args(argv[2:])
    use_ipv6 = bool(getattr(options, "use_ipv6", False))
    host, port = "", RunserverCommand.default_port
    if options.addrport:
        match = naiveip_re.match(options.addrport)
        if match is None:
            return None  # runserver itself refuses it
        host, _ipv4, ipv6, _fqdn, port = match.groups()
        if ipv6:
            host = host[1:-1]
    if not port.isdigit():
        return None
    host = host or (RunserverCommand.default_addr_ipv6 if use_ipv6 else RunserverCommand.default_addr)
    return host, int(port)


_WILDCARDS = {"0.0.0.0", "::", "0"}  # noqa: S104 - names, compared; nothing binds them


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _same_loopback(served_host: str, public_host: str) -> bool:
    """A server on a loopback address is also reached by the name localhost (and the
    other way round); two different loopback addresses are different listeners."""
    if not (_is_loopback(served_host) and _is_loopback(public_host)):
        return False
    return any(not _is_ip(host) for host in (served_host, public_host))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_this_machine(host: str) -> bool:
    """Whether ``host`` (an IP address) is one of this machine's own addresses: only
    those can be bound. A name other than localhost is not resolved (no DNS here)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
    except OSError:
        return False
    return True


def public_url_problem(public_url: str, served: tuple[str, int]) -> str | None:
    """Why ``public_url`` cannot reach a development server listening on ``served``
    (host, port), in a sentence; None when it can (as far as this machine can tell)."""
    host, port = served
    parts = urlsplit(public_url)
    try:
        public_host, public_port = parts.hostname or "", parts.port
    except ValueError:
        return None  # not a URL with a port: kpay.E006 says so
    public_port = public_port or (443 if parts.scheme == "https" else 80)
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    if not (_is_loopback(public_host) or _is_this_machine(public_host)):
        return (
            f"KPAY_PUBLIC_URL ({public_url}) names {public_host}, not this machine, while this "
            f"server listens on {where}: gateways, the simulators and learners returning from "
            f"the cashier reach it only through a tunnel or proxy forwarding to port {port}."
        )
    if public_port != port:
        return (
            f"KPAY_PUBLIC_URL ({public_url}) is on port {public_port}, but this server listens "
            f"on {where}: the cashier links and the gateways' notifications go to port "
            f"{public_port} and no payment can finish."
        )
    if parts.scheme == "https":
        return f"KPAY_PUBLIC_URL ({public_url}) uses https, but runserver on {where} speaks http only."
    if host not in _WILDCARDS and host != public_host and not _same_loopback(host, public_host):
        return f"KPAY_PUBLIC_URL ({public_url}) names {public_host}, but this server listens on {where} only."
    return None


@register(Tags.compatibility)
def check_public_url_reaches_server(app_configs=None, **kwargs):
    """In development, warn when the public URL does not lead to the server being run:
    every payment would then wait for a notification that goes elsewhere."""
    if getattr(settings, "KPAY_ENV", "") == "production":
        return []
    served = served_address(sys.argv)
    if served is None:
        return []
    problem = public_url_problem(settings.KPAY_PUBLIC_URL, served)
    if problem is None:
        return []
    port = served[1]
    return [
        Warning(
            problem,
            hint=(
                f"Start the server with bin/dev (KPAY_DEV_ADDRESS=127.0.0.1:{port} bin/dev), which sets "
                f"the public URL from the address served, or set KPAY_PUBLIC_URL=http://127.0.0.1:{port}."
            ),
            id="kpay.W001",
        )
    ]
