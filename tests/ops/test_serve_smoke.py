"""The production topology, started as an operator would: ``bin/serve --release`` with
``KPAY_ENV=production`` on PostgreSQL and Redis (TLS and the real gateways aside: their
configuration is real, with throwaway keys, and points at a closed port).

It must answer ``/readyz``, the admin login page and the API schema, show its metrics to
the bearer of the token only, run a task on its worker with the request id of whoever
sent it, and stop cleanly on SIGTERM, leaving no process behind and no secret in its output.

Resources (README "Operating kpay"): the PostgreSQL database ``kpay_smoke`` (made once,
emptied each run; ``KPAY_SMOKE_DATABASE_URL`` to change it), Redis databases 10 (broker) and
11 (cache) on the Redis of ``CELERY_TEST_BROKER_URL`` (``KPAY_SMOKE_REDIS_URL`` and
``KPAY_SMOKE_REDIS_DBS`` to change them), and port 8108 (``KPAY_SMOKE_PORT``).
"""

import contextlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[2]
HOST = "pay.example.test"
START_TIMEOUT = 180  # seconds, migrations of an empty database included (about 20 s on an idle machine)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]


def _smoke_database_url() -> str:
    if os.environ.get("KPAY_SMOKE_DATABASE_URL"):
        return os.environ["KPAY_SMOKE_DATABASE_URL"]
    parts = urlsplit(os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/kpay"))
    return urlunsplit(parts._replace(path="/kpay_smoke"))


def _redis_urls() -> tuple[str, str]:
    base = os.environ.get("KPAY_SMOKE_REDIS_URL") or os.environ.get("CELERY_TEST_BROKER_URL", "")
    if not base.startswith("redis://"):
        message = "needs Redis: set CELERY_TEST_BROKER_URL (or KPAY_SMOKE_REDIS_URL)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}: CI must run the smoke test")
        pytest.skip(message)
    broker_db, cache_db = os.environ.get("KPAY_SMOKE_REDIS_DBS", "10,11").split(",")
    parts = urlsplit(base)
    return (urlunsplit(parts._replace(path=f"/{broker_db}")), urlunsplit(parts._replace(path=f"/{cache_db}")))


def _fresh_database(url: str) -> None:
    """An empty database: made if missing, else emptied by dropping its schema (DROP
    DATABASE waits for a cluster-wide checkpoint, which a busy machine makes slow)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(scheme="postgresql", path="/postgres"))
    with psycopg.connect(admin, autocommit=True, connect_timeout=5) as connection:
        exists = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')
        else:  # a crashed earlier run may have left connections behind
            connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                [name],
            )
    with psycopg.connect(urlunsplit(parts._replace(scheme="postgresql")), autocommit=True) as connection:
        connection.execute("DROP SCHEMA IF EXISTS public CASCADE")
        connection.execute("CREATE SCHEMA public")


def _flush(*urls: str) -> None:
    import redis

    for url in urls:
        client = redis.Redis.from_url(url, socket_timeout=5)
        client.flushdb()
        client.close()


def _keys(folder: Path) -> dict[str, str]:
    paths = {}
    for name in ("wechatpay-merchant", "wechatpay-platform", "alipay-app", "alipay-platform"):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private, public = folder / f"{name}.pem", folder / f"{name}.pub.pem"
        private.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        public.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        paths[name], paths[f"{name}.pub"] = str(private), str(public)
    return paths


def _environment(tmp_path: Path, database_url: str, broker_url: str, cache_url: str, port: int) -> dict:
    keys = _keys(tmp_path)
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KPAY_", "DJANGO_", "WECHATPAY_", "ALIPAY_"))
    }
    env.update(
        KPAY_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=HOST,
        KPAY_PUBLIC_URL=f"https://{HOST}",
        DATABASE_URL=database_url,
        CACHE_URL=cache_url,
        CELERY_BROKER_URL=broker_url,
        KPAY_FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        KPAY_METRICS_TOKEN=secrets.token_urlsafe(32),
        KPAY_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        KPAY_WORKER_CONCURRENCY="1",
        KPAY_BEAT_SCHEDULE=str(tmp_path / "celerybeat-schedule"),
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"),
        ADMINS="ops@example.test",
        # A real gateway configuration, with throwaway keys, pointing at a closed port.
        WECHATPAY_MCHID="1900000001",
        WECHATPAY_APPID="wx0000000000000001",
        WECHATPAY_APIV3_KEY=secrets.token_hex(16),
        WECHATPAY_PRIVATE_KEY=keys["wechatpay-merchant"],
        WECHATPAY_CERT_SERIAL_NO="5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
        WECHATPAY_PUBLIC_KEY=keys["wechatpay-platform.pub"],
        WECHATPAY_PUBLIC_KEY_ID="PUB_KEY_ID_0000000000000001",
        WECHATPAY_API_BASE="https://127.0.0.1:9",
        ALIPAY_APP_ID="2021000000000009",
        ALIPAY_SELLER_ID="2088000000000009",
        ALIPAY_APP_PRIVATE_KEY=keys["alipay-app"],
        ALIPAY_PUBLIC_KEY=keys["alipay-platform.pub"],
        ALIPAY_GATEWAY_URL="https://127.0.0.1:9/gateway.do",
    )
    env.pop("DEBUG", None)
    return env


def _json_lines(path: Path) -> list[dict]:
    lines = []
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


def _wait_for(predicate, timeout: float, what: str, output: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.25)
    pytest.fail(f"{what} within {timeout}s; bin/serve said:\n{output.read_text(errors='replace')[-6000:]}")


def test_bin_serve_runs_production_and_stops_cleanly(tmp_path):
    started = time.monotonic()
    database_url = _smoke_database_url()
    broker_url, cache_url = _redis_urls()
    port = int(os.environ.get("KPAY_SMOKE_PORT", "8108"))
    _fresh_database(database_url)
    _flush(broker_url, cache_url)
    env = _environment(tmp_path, database_url, broker_url, cache_url, port)
    output = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    https = {"Host": HOST, "X-Forwarded-Proto": "https"}  # as the TLS-terminating proxy sends

    with output.open("wb") as sink:
        serve = subprocess.Popen(
            [str(ROOT / "bin" / "serve"), "--release"],
            cwd=ROOT,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: nothing may outlive it
        )
    try:
        with httpx.Client(base_url=base, timeout=5) as http:

            def ready():
                try:
                    return http.get("/readyz").status_code == 200
                except httpx.TransportError:
                    assert serve.poll() is None, output.read_text(errors="replace")[-6000:]
                    return False

            _wait_for(ready, START_TIMEOUT, "/readyz never answered 200", output)
            up = time.monotonic() - started
            readyz = http.get("/readyz").json()
            assert readyz == {
                "status": "ready",
                "checks": dict.fromkeys(("database", "migrations", "cache", "broker", "gateways"), "ok"),
            }
            assert http.get("/healthz").json() == {"status": "ok"}

            # Production settings: plain HTTP to the site is sent to HTTPS ...
            assert http.get("/admin/login/", headers={"Host": HOST}).status_code == 301
            # ... and through the proxy the pages answer, with kpay's security headers.
            login = http.get("/admin/login/", headers={**https, "X-Request-ID": "smoke-login-0001"})
            assert login.status_code == 200 and 'name="password"' in login.text
            assert login.headers["X-Request-ID"] == "smoke-login-0001"
            assert "max-age=31536000" in login.headers["Strict-Transport-Security"]
            schema = http.get("/api/v1/schema/", headers=https)
            assert schema.status_code == 200 and schema.text.startswith("openapi:")
            assert "/api/v1/orders/" in schema.text

            # Metrics: the token's bearer only; counted across both gunicorn workers.
            assert http.get("/metrics").status_code == 403
            for _ in range(6):
                assert http.get("/api/v1/schema/", headers=https).status_code == 200
            token = {"Authorization": f"Bearer {env['KPAY_METRICS_TOKEN']}"}
            metrics = http.get("/metrics", headers=token)
            assert metrics.status_code == 200
            assert (
                'kpay_http_request_duration_seconds_count{method="GET",status="200",view="api:schema"} 7.0'
                in (metrics.text)
            )
            assert 'kpay_payout_queue{state="requested"} 0.0' in metrics.text
            assert 'kpay_celery_queue_length{queue="celery"}' in metrics.text

            # The worker runs a task sent with a request id, and logs it with that id.
            sender = subprocess.run(
                [
                    str(ROOT / ".venv" / "bin" / "python"),
                    "-c",
                    "import django; django.setup()\n"
                    "from core.logging import log_context\n"
                    "from core.tasks import task_send\n"
                    "with log_context(request_id='smoke-task-0001'):\n"
                    "    task_send('payments.tasks.ledger_check_daily')\n",
                ],
                cwd=ROOT,
                env={**env, "DJANGO_SETTINGS_MODULE": "kpay.settings"},
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert sender.returncode == 0, sender.stderr

            def task_logged():
                return [
                    line
                    for line in _json_lines(output)
                    if line.get("logger") == "payments.monitoring"
                    and line.get("request_id") == "smoke-task-0001"
                ]

            logged = _wait_for(task_logged, 30, "the worker never logged the task", output)
            assert logged[0]["task_name"] == "payments.tasks.ledger_check_daily"
            assert "kpay_ledger_check_breaches 0.0" in http.get("/metrics", headers=token).text

        # Stopping: SIGTERM, everything exits, the exit status is 0.
        stopping = time.monotonic()
        serve.send_signal(signal.SIGTERM)
        assert serve.wait(timeout=45) == 0, output.read_text(errors="replace")[-6000:]
        stopped_in = time.monotonic() - stopping
        _wait_for(lambda: not _group_alive(serve.pid), 10, "processes outlived bin/serve", output)
    finally:
        if serve.poll() is None or _group_alive(serve.pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(serve.pid, signal.SIGKILL)

    lines = _json_lines(output)
    requests = [line for line in lines if line.get("logger") == "kpay.request"]
    login_line = next(line for line in requests if line.get("request_id") == "smoke-login-0001")
    assert login_line["view"] == "admin:login" and login_line["status"] == 200
    assert any(line.get("logger") == "celery.beat" for line in lines), "no beat"
    assert any(line.get("message", "").startswith("beat: holding the lease") for line in lines)
    import redis

    cache_redis = redis.Redis.from_url(cache_url)
    assert not cache_redis.keys("*kpay:beat:leader"), "the stopped beat kept its lease"
    cache_redis.close()
    text = output.read_text(errors="replace")
    for name in ("SECRET_KEY", "KPAY_FIELD_ENCRYPTION_KEY", "KPAY_METRICS_TOKEN", "WECHATPAY_APIV3_KEY"):
        assert env[name] not in text, f"{name} appears in the output"
    total = time.monotonic() - started
    print(
        f"\nsmoke: ready after {up:.1f}s, stopped in {stopped_in:.1f}s, {total:.1f}s in all", file=sys.stderr
    )
    _flush(broker_url, cache_url)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
