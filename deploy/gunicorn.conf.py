"""gunicorn's configuration for kpay in production (``bin/serve`` uses it):
``gunicorn -c deploy/gunicorn.conf.py kpay.wsgi``. Every value can be changed from the
environment, as in README "Operating kpay".

* Sync workers (``WEB_CONCURRENCY``, default 2 × cores + 1): kpay's requests are short
  and wait on PostgreSQL and the gateways with timeouts well under ``timeout``.
* The proxies in ``KPAY_TRUSTED_PROXIES`` (default: this host) are believed about the
  scheme (``X-Forwarded-Proto``), so HTTPS ends at the proxy; the client's IP is kpay's
  own reading (``core.http.client_ip``) of the same setting.
* Logs: gunicorn's own lines are JSON like kpay's, on stderr; there is no access log,
  because kpay logs every request itself with its request id (``kpay.request``).
* Metrics: ``PROMETHEUS_MULTIPROC_DIR`` must be set (``bin/serve`` sets and empties it);
  a worker that exits has its live gauges removed.
"""

import multiprocessing
import os
from pathlib import Path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kpay.settings")
_multiproc = os.environ.setdefault(
    "PROMETHEUS_MULTIPROC_DIR", str(Path(__file__).resolve().parent.parent / "var" / "prometheus")
)
Path(_multiproc).mkdir(parents=True, exist_ok=True)

wsgi_app = "kpay.wsgi:application"
bind = os.environ.get("KPAY_BIND", "127.0.0.1:8000").split(",")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
worker_class = "sync"
timeout = int(os.environ.get("KPAY_WEB_TIMEOUT", 30))  # below KPAY_IDEMPOTENCY_LEASE (60 s)
graceful_timeout = int(os.environ.get("KPAY_WEB_GRACEFUL_TIMEOUT", 25))
keepalive = 5
# Recycle workers now and then (memory), not all at once.
max_requests = int(os.environ.get("KPAY_WEB_MAX_REQUESTS", 5000))
max_requests_jitter = max_requests // 10
# Bounded request lines and headers (gunicorn's defaults, stated).
limit_request_line = 4094
limit_request_fields = 100
_proxies = os.environ.get("KPAY_TRUSTED_PROXIES", "") or "127.0.0.1,::1"
forwarded_allow_ips = ",".join(entry.strip() for entry in _proxies.split(",") if entry.strip())
_SHM = "/dev/shm"  # noqa: S108  (gunicorn's advice: heartbeats never wait on a slow disk)
if Path(_SHM).is_dir():
    worker_tmp_dir = _SHM
control_socket_disable = True
proc_name = "kpay-web"
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
_format = os.environ.get("KPAY_LOG_FORMAT", "json")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "core.logging.JsonFormatter"},
        "plain": {
            "()": "core.logging.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if _format == "plain" else "json",
            "filters": ["context"],
            "stream": "ext://sys.stderr",
        }
    },
    "loggers": {
        "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False},
        "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    },
}


def child_exit(server, worker):
    """A worker is gone: its live gauges go with it (counters and histograms stay)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
