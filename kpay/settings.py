"""kpay settings: everything comes from the environment (see ``.env.example``).

With nothing set you get the *embedded default*: a SQLite file under ``var/``,
Celery tasks run eagerly, the sandbox gateway on, DEBUG on and a generated,
persisted development secret. ``KPAY_ENV=production`` turns all of that off and
refuses to start without real configuration.
"""

import re
import secrets
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    environ.Env.read_env(BASE_DIR / ".env")

KPAY_ENV = env.str("KPAY_ENV", default="development")
if KPAY_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("KPAY_ENV must be 'development' or 'production'.")
PRODUCTION = KPAY_ENV == "production"


def _duration(name: str, default: str) -> timedelta:
    """Parse ``90``, ``90s``, ``30m``, ``2h`` or ``7d`` into a timedelta."""
    raw = env.str(name, default=default).strip()
    match = re.fullmatch(r"(\d+)\s*([smhd]?)", raw)
    if not match:
        raise ImproperlyConfigured(f"{name}={raw!r}: use a number of seconds or 30m / 2h / 7d.")
    unit = {"": "seconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match[2]]
    return timedelta(**{unit: int(match[1])})


def _dev_secret_key() -> str:
    """A random key kept in ``var/`` so sessions survive restarts; never used in production."""
    path = VAR_DIR / "dev-secret-key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


# --- core -----------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure"):
        raise ImproperlyConfigured("Production needs SECRET_KEY: 50+ random characters.")
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production.")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="") or _dev_secret_key()
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # django.contrib.admin, with kpay's admin site (second factor for staff: accounts).
    "accounts.admin_apps.KpayAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    # API tokens: hashed, expiring, revocable (DRF's plain authtoken table is dropped by
    # accounts' first migration).
    "knox",
    "axes",  # login lockout
    "django_otp",  # staff second factor (TOTP)
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",  # staff recovery codes (stored as digests: accounts.otp)
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from our own static files, no CDN
    "django_fsm",
    "core",
    "accounts",
    "courses",
    "promotions",
    "orders",
    "payments",
    "memberships",
    "riskcontrol",
    "settlement",
    "reconciliation",
    "promoters",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files in production; in development too for the files served at the site's
    # root (WHITENOISE_ROOT: /favicon.ico), runserver serving /static/ itself.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.http.ClientIpMiddleware",
    # Gateway notifications skip what follows (session, CSRF, user, language...):
    # core.lean_requests, KPAY_LEAN_PATH_PREFIXES.
    "core.lean_requests.LeanRequestMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    # Times in the learner's own time zone (their profile), kept in the session.
    "accounts.timezones.TimeZoneMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last: turns a locked-out login into the lockout page (429).
    "axes.middleware.AxesMiddleware",
]

# First of all (core.request_id, core.health, core.metrics): the request id for the logs,
# /healthz and /readyz, /metrics and request timing. Probes and scrapers are answered
# before the host, HTTPS and session middleware: they call an internal address over HTTP.
MIDDLEWARE[:0] = [
    "core.request_id.RequestIdMiddleware",
    "core.health.HealthMiddleware",
    "core.metrics.MetricsMiddleware",
]

ROOT_URLCONF = "kpay.urls"
WSGI_APPLICATION = "kpay.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

# --- data -----------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
DATABASES["default"].setdefault("ATOMIC_REQUESTS", False)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Wait for the writer instead of failing at once; WAL lets readers go on.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL;",
            # Take the write lock at BEGIN so concurrent writers queue instead of failing.
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("DATABASE_CONN_MAX_AGE", default=60))
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://kpay")}

# --- i18n -----------------------------------------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# One date and time format per language, shown and typed alike (kpay/formats/<language>).
FORMAT_MODULE_PATH = ["kpay.formats"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

# --- static ---------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Files browsers ask for at the root of the site (/favicon.ico), served by WhiteNoise.
WHITENOISE_ROOT = BASE_DIR / "static" / "root"
# Development (and tests) read files as they are asked for: no collectstatic needed there.
WHITENOISE_AUTOREFRESH = not PRODUCTION
# Uploads (course covers). Development serves them itself; in production the web server
# (or an object store behind STORAGES["default"]) serves MEDIA_ROOT at MEDIA_URL.
MEDIA_URL = env.str("KPAY_MEDIA_URL", default="/media/")
MEDIA_ROOT = Path(env.str("KPAY_MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Files kept for a while and never served: bills uploaded for reconciliation wait here for
# the worker (core.jobs). Not under MEDIA_ROOT, which the web server publishes. With workers
# on other hosts, point this storage at storage they all reach.
KPAY_PRIVATE_ROOT = Path(env.str("KPAY_PRIVATE_ROOT", default=str(VAR_DIR / "private")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": KPAY_PRIVATE_ROOT},
    },
    "staticfiles": {
        # WhiteNoise's compressed manifest storage, each file's URL looked up once.
        "BACKEND": "core.static_files.CachedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- logins, passwords, tokens, second factor ----------------------------------
# Proxies whose X-Forwarded-For is believed: IPs or CIDRs, comma-separated. Empty (the
# default): forwarding headers are ignored and the client is REMOTE_ADDR. core.http.client_ip
# is the one reading of the client's IP: throttles, login lockout, risk rules and logs.
KPAY_TRUSTED_PROXIES = env.list("KPAY_TRUSTED_PROXIES", default=[])


def _check_trusted_proxies(entries):
    import ipaddress

    for entry in entries:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError as error:
            raise ImproperlyConfigured(
                f"KPAY_TRUSTED_PROXIES: {entry!r} is not an IP address or CIDR network."
            ) from error


_check_trusted_proxies(KPAY_TRUSTED_PROXIES)

AUTHENTICATION_BACKENDS = [
    "accounts.backends.LockoutBackend",  # django-axes: refuses locked-out logins first
    "django.contrib.auth.backends.ModelBackend",
]
KPAY_PASSWORD_MIN_LENGTH = env.int("KPAY_PASSWORD_MIN_LENGTH", default=10)
if KPAY_PASSWORD_MIN_LENGTH < 8:
    raise ImproperlyConfigured("KPAY_PASSWORD_MIN_LENGTH must be at least 8.")
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": KPAY_PASSWORD_MIN_LENGTH},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Login lockout (django-axes) on /accounts/login/, /admin/login/ and the API token endpoint:
# after KPAY_LOGIN_FAILURE_LIMIT wrong passwords for one username from one client IP, that
# pair is refused for KPAY_LOGIN_COOLOFF. Keyed on username AND IP: by username alone anyone
# could lock a victim out; by IP alone one guesser would lock out a whole NAT or campus.
KPAY_LOGIN_FAILURE_LIMIT = env.int("KPAY_LOGIN_FAILURE_LIMIT", default=5)
KPAY_LOGIN_COOLOFF = _duration("KPAY_LOGIN_COOLOFF", "15m")
if KPAY_LOGIN_FAILURE_LIMIT < 1 or not KPAY_LOGIN_COOLOFF:
    raise ImproperlyConfigured("KPAY_LOGIN_FAILURE_LIMIT and KPAY_LOGIN_COOLOFF must be positive.")
AXES_ENABLED = True
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = KPAY_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = KPAY_LOGIN_COOLOFF
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.http.client_ip"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"
AXES_HTTP_RESPONSE_CODE = 429
AXES_VERBOSE = False  # no per-attempt chatter in the logs
# Masked in the attempt records and logs (passwords always are).
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "otp_token"]

# API tokens (django-rest-knox): only a SHA-512 digest is stored; a token expires after
# KPAY_API_TOKEN_TTL; learners list and revoke theirs; a password change revokes them all.
KPAY_API_TOKEN_TTL = _duration("KPAY_API_TOKEN_TTL", "10h")
if not KPAY_API_TOKEN_TTL:
    raise ImproperlyConfigured("KPAY_API_TOKEN_TTL must be positive.")
REST_KNOX = {
    "TOKEN_TTL": KPAY_API_TOKEN_TTL,
    "AUTH_HEADER_PREFIX": "Token",  # Authorization: Token <token>, as before
    "AUTO_REFRESH": False,
}

# Staff (anyone who may open the admin) sign in to the admin with a TOTP code as well as
# the password. On by default in production, off in development and tests.
KPAY_ADMIN_OTP_REQUIRED = env.bool("KPAY_ADMIN_OTP_REQUIRED", default=PRODUCTION)
OTP_TOTP_ISSUER = env.str("OTP_TOTP_ISSUER", default="kpay")
# How long a superuser's authenticator enrolment link stays usable (accounts.otp).
KPAY_OTP_ENROLMENT_TTL = timedelta(hours=env.int("KPAY_OTP_ENROLMENT_TTL_HOURS", default=72))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "courses:catalog"
LOGOUT_REDIRECT_URL = "courses:catalog"

EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="django.core.mail.backends.smtp.EmailBackend"
    if PRODUCTION
    else "django.core.mail.backends.console.EmailBackend",
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="kpay <noreply@kpay.localhost>")

# --- security (production) ------------------------------------------------
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"

# --- Celery ---------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="")
# No broker: run tasks in-process (the embedded default). `bin/dev` still runs beat.
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = False
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "memory://"
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULE = {
    "orders-expire-unpaid": {"task": "orders.tasks.expire_unpaid_orders", "schedule": 60.0},
    "payments-sync-pending": {"task": "payments.tasks.sync_pending_payments", "schedule": 60.0},
    "payments-sync-refunds": {"task": "payments.tasks.sync_refunds", "schedule": 300.0},
    "payments-close-stale": {"task": "payments.tasks.close_stale_payments", "schedule": 300.0},
    # Balances and daily figures as of a checkpoint (payments.ledger.summaries).
    "payments-fold-journal-summaries": {"task": "payments.tasks.fold_journal_summaries", "schedule": 60.0},
    "core-sweep-idempotency-records": {"task": "core.tasks.sweep_idempotency_records", "schedule": 300.0},
    "settlement-settle-due-orders": {"task": "settlement.tasks.settle_due_orders", "schedule": 600.0},
    "promotions-expire-points": {"task": "promotions.tasks.expire_points", "schedule": 3600.0},
    # Yesterday's statements (and any missed in the last week), once the day is over.
    "settlement-generate-statements": {"task": "settlement.tasks.generate_statements", "schedule": 3600.0},
    # Automatic renewal of memberships: notices, charges in the gateways' windows, dunning.
    "memberships-run-renewals": {"task": "memberships.tasks.run_renewals", "schedule": 600.0},
    # WeChat Pay publishes yesterday's bill after 10:00 Beijing time (CELERY_TIMEZONE).
    "reconciliation-fetch-bills": {
        "task": "reconciliation.tasks.reconcile_bills",
        "schedule": crontab(hour=10, minute=30),
    },
}

# --- DRF ------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Throttles are keyed on core.http.client_ip (core.api.throttling), never on a raw header.
    "DEFAULT_THROTTLE_RATES": {"auth": "10/min"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "kpay API",
    "DESCRIPTION": "Buy courses, pay through a gateway, see orders.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The API docs (Swagger UI at /api/v1/docs/, ReDoc at /api/v1/redoc/) come from our own
    # static files (drf-spectacular-sidecar, pinned): no CDN, so they work offline and in
    # mainland China. No validator badge (it would call validator.swagger.io).
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # ReDoc with the system's fonts (its stock page loads Google Fonts).
    "REDOC_UI_SETTINGS": {
        "theme": {
            "typography": {
                "fontFamily": "system-ui, -apple-system, 'PingFang SC', 'Microsoft YaHei', sans-serif",
                "headings": {"fontFamily": "system-ui, -apple-system, 'PingFang SC', sans-serif"},
            }
        }
    },
    # The schema tells the truth (schemathesis checks it: tests/api/test_schemathesis.py):
    # the error shape is one component, and the answers every endpoint of a kind gives
    # (401/403 with credentials, 400/413/415 with a body) are added to each operation.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.api.schema.add_common_error_responses",
    ],
}

# --- kpay -----------------------------------------------------------------
# The public base URL gateways call back (notify_url) and send learners back to.
KPAY_PUBLIC_URL = env.str("KPAY_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")
# URLs whose views may be marked lean (core.lean_requests): gateway notifications.
KPAY_LEAN_PATH_PREFIXES = ["/payments/webhooks/"]
# The notification's lock and its one statement of writes are prepared on the
# connection (core.bound). Off behind PgBouncer in transaction mode older than 1.21.
KPAY_PREPARED_STATEMENTS = env.bool("KPAY_PREPARED_STATEMENTS", default=True)
KPAY_ORDER_TTL = _duration("KPAY_ORDER_TTL", "30m")
KPAY_REFUND_WINDOW = _duration("KPAY_REFUND_WINDOW", "7d")
# Idempotency-Key: how long a request holds its key (longer than any request may run;
# after it a retry takes the key over), and how long an answered key is replayed (0: forever).
KPAY_IDEMPOTENCY_LEASE = _duration("KPAY_IDEMPOTENCY_LEASE", "60s")
KPAY_IDEMPOTENCY_RETENTION = _duration("KPAY_IDEMPOTENCY_RETENTION", "24h")
# Money no order took (a second payment of an already paid order, or one that arrived
# after the order closed) goes back to the payer at once, refunded by kpay itself.
KPAY_AUTO_RETURN_UNAPPLIED = env.bool("KPAY_AUTO_RETURN_UNAPPLIED", default=True)
# A fully refunded order gives its coupon back to the learner (while the coupon is still valid).
KPAY_COUPON_RETURN_ON_FULL_REFUND = env.bool("KPAY_COUPON_RETURN_ON_FULL_REFUND", default=True)
# Points (积分): earned when an order completes, per whole yuan the learner paid; worth
# KPAY_POINTS_PER_YUAN_VALUE points per yuan at checkout (a divisor of 100, so a point is
# a whole number of fen); paying at most KPAY_POINTS_MAX_SHARE of the list price; expiring
# KPAY_POINTS_TTL after they were earned, oldest first.
KPAY_POINTS_PER_YUAN = env.int("KPAY_POINTS_PER_YUAN", default=1)
KPAY_POINTS_PER_YUAN_VALUE = env.int("KPAY_POINTS_PER_YUAN_VALUE", default=100)
KPAY_POINTS_MAX_SHARE = Decimal(env.str("KPAY_POINTS_MAX_SHARE", default="0.5"))
KPAY_POINTS_TTL = _duration("KPAY_POINTS_TTL", "365d")
if KPAY_POINTS_PER_YUAN < 0:
    raise ImproperlyConfigured("KPAY_POINTS_PER_YUAN must be 0 or more.")
if KPAY_POINTS_PER_YUAN_VALUE <= 0 or 100 % KPAY_POINTS_PER_YUAN_VALUE:
    raise ImproperlyConfigured(
        "KPAY_POINTS_PER_YUAN_VALUE must divide 100 (1, 2, 4, 5, 10, 20, 25, 50, 100)."
    )
if not Decimal(0) <= KPAY_POINTS_MAX_SHARE <= Decimal(1):
    raise ImproperlyConfigured("KPAY_POINTS_MAX_SHARE must be between 0 and 1, e.g. 0.5.")
# Four eyes: what one staff member may sign alone of one order's refunds, all together
# (in flight included), in fen; beyond it a second, different staff member approves.
KPAY_REFUND_APPROVAL_THRESHOLD = env.int("KPAY_REFUND_APPROVAL_THRESHOLD", default=50_000)
KPAY_COMMISSION_RATE = Decimal(env.str("KPAY_COMMISSION_RATE", default="0.10"))
if not Decimal(0) <= KPAY_COMMISSION_RATE <= Decimal(1):
    raise ImproperlyConfigured("KPAY_COMMISSION_RATE must be between 0 and 1, e.g. 0.10.")
# Who assesses purchases and payments for risk (``core.risk``): a dotted path.
KPAY_RISK_ASSESSOR = env.str("KPAY_RISK_ASSESSOR", default="riskcontrol.interface.assess")
KPAY_KEY_DIR = Path(env.str("KPAY_KEY_DIR", default=str(VAR_DIR / "keys")))
# How long one settlement statement covers: day (the default), week (Monday to Sunday)
# or month.
KPAY_STATEMENT_PERIOD = env.str("KPAY_STATEMENT_PERIOD", default="day")
if KPAY_STATEMENT_PERIOD not in ("day", "week", "month"):
    raise ImproperlyConfigured("KPAY_STATEMENT_PERIOD must be day, week or month.")
# What a merchant may withdraw in one payout (提现), in fen: default 100 to 50,000 yuan.
KPAY_PAYOUT_MIN = env.int("KPAY_PAYOUT_MIN", default=10_000)
KPAY_PAYOUT_MAX = env.int("KPAY_PAYOUT_MAX", default=5_000_000)
if not 1 <= KPAY_PAYOUT_MIN <= KPAY_PAYOUT_MAX:
    raise ImproperlyConfigured("KPAY_PAYOUT_MIN and KPAY_PAYOUT_MAX are fen, with 1 <= MIN <= MAX.")


def _dev_field_encryption_key() -> str:
    """A Fernet key kept in ``var/`` (like the development SECRET_KEY); never in production."""
    from cryptography.fernet import Fernet

    path = VAR_DIR / "dev-field-encryption-key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


def _field_encryption_keys(raw: list[str]) -> list[str]:
    """The keys bank account numbers are encrypted with (``settlement.crypto``): Fernet
    keys, newest first. Production refuses to start without one, or with a malformed one."""
    from cryptography.fernet import Fernet

    keys = [key.strip() for key in raw if key.strip()]
    if not keys:
        if PRODUCTION:
            raise ImproperlyConfigured(
                "Production needs KPAY_FIELD_ENCRYPTION_KEY: one or more Fernet keys, newest first, "
                "comma-separated (make one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')."
            )
        keys = [_dev_field_encryption_key()]
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            # Never echo the value: it is a secret, even when malformed.
            raise ImproperlyConfigured(
                f"KPAY_FIELD_ENCRYPTION_KEY: key {number} is not a Fernet key (32 url-safe base64 bytes)."
            ) from None
    return keys


# Encryption at rest of bank account numbers (payouts): a list so keys can be rotated.
KPAY_FIELD_ENCRYPTION_KEYS = _field_encryption_keys(env.list("KPAY_FIELD_ENCRYPTION_KEY", default=[]))

# Automatic renewal of memberships (memberships.services.renewal). The charge is planned
# KPAY_RENEWAL_CHARGE_DAYS_BEFORE days before the membership ends (in the gateway's time
# zone); the learner is e-mailed KPAY_RENEWAL_NOTICE_DAYS days before it (and the gateway's
# own pre-charge notice goes when its rules say). A failed charge is retried
# KPAY_RENEWAL_RETRY_DAYS days after the first attempt (dunning), while access continues
# for KPAY_RENEWAL_GRACE after the end; then the membership lapses.
KPAY_RENEWAL_CHARGE_DAYS_BEFORE = env.int("KPAY_RENEWAL_CHARGE_DAYS_BEFORE", default=1)
KPAY_RENEWAL_NOTICE_DAYS = env.int("KPAY_RENEWAL_NOTICE_DAYS", default=3)
KPAY_RENEWAL_GRACE = _duration("KPAY_RENEWAL_GRACE", "7d")


def _retry_days(raw: list[str]) -> tuple[int, ...]:
    try:
        days = tuple(int(day) for day in raw if day.strip())
    except ValueError:
        raise ImproperlyConfigured(
            "KPAY_RENEWAL_RETRY_DAYS: whole days, comma-separated, e.g. 1,3,5."
        ) from None
    if any(day < 1 for day in days) or list(days) != sorted(set(days)):
        raise ImproperlyConfigured("KPAY_RENEWAL_RETRY_DAYS: increasing whole days from 1, e.g. 1,3,5.")
    return days


KPAY_RENEWAL_RETRY_DAYS = _retry_days(env.list("KPAY_RENEWAL_RETRY_DAYS", default=["1", "3", "5"]))
if KPAY_RENEWAL_CHARGE_DAYS_BEFORE < 0 or KPAY_RENEWAL_NOTICE_DAYS < 0:
    raise ImproperlyConfigured(
        "KPAY_RENEWAL_CHARGE_DAYS_BEFORE and KPAY_RENEWAL_NOTICE_DAYS are 0 or more days."
    )
if (
    timedelta(days=max(KPAY_RENEWAL_RETRY_DAYS, default=0) - KPAY_RENEWAL_CHARGE_DAYS_BEFORE)
    >= KPAY_RENEWAL_GRACE
):
    raise ImproperlyConfigured(
        "KPAY_RENEWAL_GRACE must outlast the last retry (KPAY_RENEWAL_RETRY_DAYS after the charge day, "
        "KPAY_RENEWAL_CHARGE_DAYS_BEFORE days before the end)."
    )

# The sandbox gateway and its simulator: never in production.
KPAY_SANDBOX_ENABLED = env.bool("KPAY_SANDBOX_ENABLED", default=not PRODUCTION)
if PRODUCTION and KPAY_SANDBOX_ENABLED:
    raise ImproperlyConfigured("The sandbox gateway cannot run in production.")
# The simulators retry notifications on the real gateways' schedules (up to 24 h),
# multiplied by this: 0.01 turns a 15 s retry into 0.15 s for demos and tests.
KPAY_SIMULATOR_TIME_SCALE = env.float("KPAY_SIMULATOR_TIME_SCALE", default=1.0)

KPAY_GATEWAYS: dict[str, dict] = {}
if KPAY_SANDBOX_ENABLED:
    # devtools: the simulators, development keys (made in KPAY_KEY_DIR at startup), demo
    # data and the development URLs. Never installed in production.
    from devtools import keys as dev_keys

    INSTALLED_APPS += [
        "devtools",
        "devtools.simulators",
        "devtools.simulators.wechatpay",
        "devtools.simulators.alipay",
    ]
    CELERY_BEAT_SCHEDULE["simulators-deliver-notifications"] = {
        "task": "devtools.simulators.tasks.deliver_due_notifications",
        "schedule": 5.0,
    }
    KPAY_GATEWAYS["sandbox"] = {
        "BACKEND": "payments.gateways.sandbox.SandboxGateway",
        "OPTIONS": {
            "base_url": env.str("KPAY_SANDBOX_URL", default=f"{KPAY_PUBLIC_URL}/simulators/sandbox"),
            "merchant_id": env.str("KPAY_SANDBOX_MERCHANT_ID", default="kpay-dev"),
            "private_key_path": str(dev_keys.private_key_path(KPAY_KEY_DIR, dev_keys.SANDBOX_MERCHANT)),
            "gateway_public_key_path": str(dev_keys.public_key_path(KPAY_KEY_DIR, dev_keys.SANDBOX_GATEWAY)),
        },
    }

# WeChat Pay API v3 (channels wechat_native, wechat_h5, wechat_jsapi). Configured by
# WECHATPAY_MCHID and friends; a half configuration is a system-check error. Without
# them, development uses the WeChat Pay simulator with the development keys in KPAY_KEY_DIR
# (the backend is the product's, plus the simulator's http cashier link: devtools).
# Automatic renewal (委托代扣 papay, withholding channel wechat_papay) needs the v2 API key
# (WECHATPAY_V2_KEY or WECHATPAY_V2_KEY_FILE) and the template id WECHATPAY_PAPAY_PLAN_ID,
# both or neither; WECHATPAY_PAPAY_MAX_AMOUNT (fen) is the template's per-charge cap.
# WeChat Pay inside WeChat (JSAPI) needs the learner's openid, learnt by WeChat's web
# authorisation (snsapi_base) of the Official Account whose appid is WECHATPAY_APPID: its
# AppSecret is WECHAT_MP_APP_SECRET or WECHAT_MP_APP_SECRET_FILE (without it, a warning,
# and WeChat Pay is not offered inside WeChat).
if env.str("WECHATPAY_MCHID", default=""):
    KPAY_GATEWAYS["wechatpay"] = {
        "BACKEND": "payments.gateways.wechatpay.WeChatPayGateway",
        "OPTIONS": {
            "mchid": env.str("WECHATPAY_MCHID"),
            "appid": env.str("WECHATPAY_APPID", default=""),
            "apiv3_key": env.str("WECHATPAY_APIV3_KEY", default=""),
            "apiv3_key_path": env.str("WECHATPAY_APIV3_KEY_FILE", default=""),
            "private_key_path": env.str("WECHATPAY_PRIVATE_KEY", default=""),
            "cert_serial_no": env.str("WECHATPAY_CERT_SERIAL_NO", default=""),
            "public_key_path": env.str("WECHATPAY_PUBLIC_KEY", default=""),
            "public_key_id": env.str("WECHATPAY_PUBLIC_KEY_ID", default=""),
            "platform_cert_dir": env.str("WECHATPAY_PLATFORM_CERT_DIR", default=""),
            "api_base": env.str("WECHATPAY_API_BASE", default="https://api.mch.weixin.qq.com"),
            "v2_key": env.str("WECHATPAY_V2_KEY", default=""),
            "v2_key_path": env.str("WECHATPAY_V2_KEY_FILE", default=""),
            "papay_plan_id": env.str("WECHATPAY_PAPAY_PLAN_ID", default=""),
            "papay_max_amount": env.int("WECHATPAY_PAPAY_MAX_AMOUNT", default=50000),
            "mp_app_secret": env.str("WECHAT_MP_APP_SECRET", default=""),
            "mp_app_secret_path": env.str("WECHAT_MP_APP_SECRET_FILE", default=""),
        },
    }
elif KPAY_SANDBOX_ENABLED:
    KPAY_GATEWAYS["wechatpay"] = {
        "BACKEND": "devtools.simulators.wechatpay.gateway.SimulatorWeChatPayGateway",
        "OPTIONS": {
            "mchid": "1900000109",
            "appid": "wxd930ea5d5a258f4f",
            "api_base": f"{KPAY_PUBLIC_URL}/simulators/wechatpay",
            "apiv3_key_path": str(KPAY_KEY_DIR / dev_keys.WECHATPAY_APIV3_KEY),
            "private_key_path": str(dev_keys.private_key_path(KPAY_KEY_DIR, dev_keys.WECHATPAY_MERCHANT)),
            "cert_serial_no": dev_keys.WECHATPAY_CERT_SERIAL_NO,
            "public_key_path": str(dev_keys.public_key_path(KPAY_KEY_DIR, dev_keys.WECHATPAY_PUBKEY)),
            "public_key_id": dev_keys.WECHATPAY_PUBLIC_KEY_ID,
            "v2_key_path": str(KPAY_KEY_DIR / dev_keys.WECHATPAY_V2_KEY),
            "papay_plan_id": "12535",
            # WeChat's web authorisation (open.weixin.qq.com, api.weixin.qq.com), simulated
            "mp_app_secret_path": str(KPAY_KEY_DIR / dev_keys.WECHAT_MP_APP_SECRET),
            "oauth_authorize_base": f"{KPAY_PUBLIC_URL}/simulators/wechatpay/open",
            "sns_api_base": f"{KPAY_PUBLIC_URL}/simulators/wechatpay/api",
        },
    }

# Alipay open platform, RSA2 (channels alipay_qr, alipay_page, alipay_wap; withholding
# agreements, 周期扣款, on alipay_agreement, signed under ALIPAY_AGREEMENT_SIGN_SCENE).
ALIPAY_AGREEMENT_SIGN_SCENE = env.str("ALIPAY_AGREEMENT_SIGN_SCENE", default="INDUSTRY|EDU")
if env.str("ALIPAY_APP_ID", default=""):
    KPAY_GATEWAYS["alipay"] = {
        "BACKEND": "payments.gateways.alipay.AlipayGateway",
        "OPTIONS": {
            "app_id": env.str("ALIPAY_APP_ID"),
            "app_private_key_path": env.str("ALIPAY_APP_PRIVATE_KEY", default=""),
            "alipay_public_key_path": env.str("ALIPAY_PUBLIC_KEY", default=""),
            "seller_id": env.str("ALIPAY_SELLER_ID", default=""),
            "gateway_url": env.str("ALIPAY_GATEWAY_URL", default="https://openapi.alipay.com/gateway.do"),
            "agreement_sign_scene": ALIPAY_AGREEMENT_SIGN_SCENE,
        },
    }
elif KPAY_SANDBOX_ENABLED:
    KPAY_GATEWAYS["alipay"] = {
        "BACKEND": "payments.gateways.alipay.AlipayGateway",
        "OPTIONS": {
            "app_id": "2021000000000001",
            "seller_id": "2088000000000001",
            "gateway_url": f"{KPAY_PUBLIC_URL}/simulators/alipay/gateway.do",
            "app_private_key_path": str(dev_keys.private_key_path(KPAY_KEY_DIR, dev_keys.ALIPAY_APP)),
            "alipay_public_key_path": str(dev_keys.public_key_path(KPAY_KEY_DIR, dev_keys.ALIPAY_PLATFORM)),
            "agreement_sign_scene": ALIPAY_AGREEMENT_SIGN_SCENE,
        },
    }

# --- operations: logs, metrics, error reports, alerts (README "Operating kpay") -------------
# Logs: one JSON object per line in production (core.logging.JsonFormatter), a plain line in
# development; both scrubbed of secrets and card/account numbers, with the request id.
KPAY_LOG_FORMAT = env.str("KPAY_LOG_FORMAT", default="json" if PRODUCTION else "plain")
if KPAY_LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("KPAY_LOG_FORMAT must be json or plain.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logging.ContextFilter"}},
    "formatters": {
        "json": {"()": "core.logging.JsonFormatter"},
        "plain": {
            "()": "core.logging.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s [%(client_ip)s %(request_id)s] %(message)s",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": KPAY_LOG_FORMAT, "filters": ["context"]}
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # Django's own handlers go (e-mailing admins every 500 with the request in it):
        # its records reach the console above; errors are reported to Sentry.
        "django": {"handlers": [], "level": "INFO"},
    },
}

# Metrics (core.metrics) at /metrics, for Prometheus: shown only to clients within
# KPAY_METRICS_ALLOWED_NETWORKS (IPs/CIDRs) presenting "Authorization: Bearer
# <KPAY_METRICS_TOKEN>"; either may be left empty, and with both empty /metrics is a 404.
KPAY_METRICS_TOKEN = env.str("KPAY_METRICS_TOKEN", default="")
if KPAY_METRICS_TOKEN and len(KPAY_METRICS_TOKEN) < 24:
    raise ImproperlyConfigured("KPAY_METRICS_TOKEN must be at least 24 random characters.")
KPAY_METRICS_ALLOWED_NETWORKS = env.list("KPAY_METRICS_ALLOWED_NETWORKS", default=[])


def _check_networks(name: str, entries: list[str]) -> None:
    import ipaddress

    for entry in entries:
        try:
            ipaddress.ip_network(entry.strip(), strict=False)
        except ValueError as error:
            raise ImproperlyConfigured(f"{name}: {entry!r} is not an IP address or CIDR network.") from error


_check_networks("KPAY_METRICS_ALLOWED_NETWORKS", KPAY_METRICS_ALLOWED_NETWORKS)
# Gauges read at scrape time, each app its own (dotted paths: kpay imports no app).
KPAY_METRICS_COLLECTORS = [
    "core.metrics.celery_queue",
    "payments.monitoring.metrics",
    "settlement.monitoring.metrics",
    "reconciliation.monitoring.metrics",
]

# Error reports (core.sentry): Sentry or a compatible service, with personal data scrubbed.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default=KPAY_ENV)
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)
KPAY_RELEASE = env.str("KPAY_RELEASE", default="")

# Alerts (core.alerts): e-mailed to ADMINS, KPAY_ALERT_EMAILS and the finance staff, each
# naming the admin page to look at, on the address KPAY_ALERT_BASE_URL (default: the public URL).
ADMINS = [(address.split("@")[0], address) for address in env.list("ADMINS", default=[])]
KPAY_ALERT_EMAILS = env.list("KPAY_ALERT_EMAILS", default=[])
KPAY_ALERT_BASE_URL = env.str("KPAY_ALERT_BASE_URL", default=KPAY_PUBLIC_URL).rstrip("/")
# A refund still processing this long after it was sent to the gateway is stuck.
KPAY_REFUND_STUCK_AFTER = _duration("KPAY_REFUND_STUCK_AFTER", "1d")
CELERY_BEAT_SCHEDULE.update(
    {
        # The books, every morning before finance starts (Beijing time, CELERY_TIMEZONE).
        "payments-ledger-check": {
            "task": "payments.tasks.ledger_check_daily",
            "schedule": crontab(hour=6, minute=0),
        },
        "payments-alert-stuck-refunds": {"task": "payments.tasks.alert_stuck_refunds", "schedule": 3600.0},
        "settlement-alert-failed-payouts": {
            "task": "settlement.tasks.alert_failed_payouts",
            "schedule": 600.0,
        },
        "reconciliation-alert-differences": {
            "task": "reconciliation.tasks.alert_reconciliation",
            "schedule": 900.0,
        },
    }
)
