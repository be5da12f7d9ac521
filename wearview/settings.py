"""Django settings for WearView.

Every value comes from the environment and has an embedded default, so one command runs the
whole service on a laptop: SQLite for the database, kombu's SQLAlchemy transport on SQLite for the
broker, the local file system for storage. The README lists the variables that switch each part to
its production component.
"""

from pathlib import Path

import dj_database_url
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from wearview import env

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.get_str("WEARVIEW_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env.get_bool("DJANGO_DEBUG", True)

SECRET_KEY = env.get_secret(
    "DJANGO_SECRET_KEY", debug=DEBUG, var_dir=VAR_DIR, generate=env.generate_token
)
ALLOWED_HOSTS = [
    h for h in env.get_str("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h
]
CSRF_TRUSTED_ORIGINS = [o for o in env.get_str("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "wearview.catalog",
    "wearview.studio",
    "integrations.shopify",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "wearview.urls"
WSGI_APPLICATION = "wearview.wsgi.application"
ASGI_APPLICATION = "wearview.asgi.application"

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
            ],
        },
    },
]

# Database. SQLite runs in WAL mode with IMMEDIATE transactions, so the web server and the
# worker processes can write to one file without "database is locked" errors on upgrade from a
# read lock to a write lock.
DEFAULT_SQLITE_PATH = VAR_DIR / "wearview.sqlite3"
# Connections are kept between requests and tasks. Measured on 2 cores, opening one took about
# 1 ms per request, and closing the last connection to a SQLite file in WAL mode (which
# checkpoints the log) about 2 ms more. The health check replaces a connection that a database
# restart broke.
DATABASES = {
    "default": dj_database_url.parse(
        env.get_str("DATABASE_URL", f"sqlite:///{DEFAULT_SQLITE_PATH}"),
        conn_max_age=env.get_int("DATABASE_CONN_MAX_AGE", 600),
        conn_health_checks=env.get_bool("DATABASE_CONN_HEALTH_CHECKS", True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # The test database is a file too: an in-memory database cannot be shared with the worker
    # processes that the integration tests start.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-wearview.sqlite3")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"

# Storage. The file system under var/media by default; WEARVIEW_S3_BUCKET switches the default
# storage to S3 (or any S3-compatible service through WEARVIEW_S3_ENDPOINT_URL).
MEDIA_ROOT = Path(env.get_str("WEARVIEW_MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
WEARVIEW_S3_BUCKET = env.get_str("WEARVIEW_S3_BUCKET")
if WEARVIEW_S3_BUCKET:
    DEFAULT_STORAGE = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": WEARVIEW_S3_BUCKET,
            "endpoint_url": env.get_str("WEARVIEW_S3_ENDPOINT_URL") or None,
            "region_name": env.get_str("WEARVIEW_S3_REGION") or None,
            "access_key": env.get_str("WEARVIEW_S3_ACCESS_KEY_ID") or None,
            "secret_key": env.get_str("WEARVIEW_S3_SECRET_ACCESS_KEY") or None,
            "default_acl": None,
            "file_overwrite": True,
            "querystring_auth": True,
        },
    }
else:
    DEFAULT_STORAGE = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": MEDIA_URL},
    }
STORAGES = {
    "default": DEFAULT_STORAGE,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Celery. The embedded broker is kombu's SQLAlchemy transport on a SQLite file; production sets
# CELERY_BROKER_URL to redis:// or amqp://.
CELERY_BROKER_URL = env.get_str("CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'broker.sqlite3'}")
if CELERY_BROKER_URL.startswith("redis"):
    _default_result_backend = CELERY_BROKER_URL
else:
    _default_result_backend = f"db+sqlite:///{VAR_DIR / 'celery-results.sqlite3'}"
CELERY_RESULT_BACKEND = env.get_str("CELERY_RESULT_BACKEND", _default_result_backend)
CELERY_TASK_ALWAYS_EAGER = env.get_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_SOFT_TIME_LIMIT = env.get_int("CELERY_TASK_SOFT_TIME_LIMIT", 300)
CELERY_TASK_TIME_LIMIT = env.get_int("CELERY_TASK_TIME_LIMIT", 360)
# Seconds between full syncs of a shop, to catch changes whose webhooks were lost.
WEARVIEW_RESYNC_INTERVAL = env.get_int("WEARVIEW_RESYNC_INTERVAL", 6 * 3600)
# Seconds a running sync may go without storing a page (or, in bulk mode, without a status
# check) before the resync task sends its task again.
WEARVIEW_SYNC_STALL_LIMIT = env.get_int("WEARVIEW_SYNC_STALL_LIMIT", 1800)
CELERY_BEAT_SCHEDULE = {
    # Restarts stuck jobs and resends lost work: image copies, product processing, and
    # publishes whose media is still processing.
    "expire-stuck-jobs": {
        "task": "wearview.studio.tasks.expire_stuck_jobs_task",
        "schedule": env.get_float("WEARVIEW_RECONCILE_INTERVAL", 300.0),
    },
    "resync-shops": {
        "task": "integrations.shopify.tasks.resync_shops_task",
        "schedule": env.get_float("WEARVIEW_RESYNC_CHECK_INTERVAL", 900.0),
    },
}
WEARVIEW_GPU_TIME_LIMIT = env.get_int("WEARVIEW_GPU_TIME_LIMIT", 1800)
# Redis hands a message that a worker took but never acknowledged (the worker was killed) to
# another worker after this many seconds. It must outlast the longest task, or a slow
# generation would run twice. It must also end before the sweep's generating limit, so that a
# killed GPU worker's batch is redelivered once and not restarted by the sweep as well.
WEARVIEW_BROKER_VISIBILITY_TIMEOUT = env.get_int(
    "WEARVIEW_BROKER_VISIBILITY_TIMEOUT", WEARVIEW_GPU_TIME_LIMIT * 3 // 2
)
# NOTE: kombu 5.7's SQLAlchemy transport passes every transport option to create_engine(), so
# its polling interval cannot be set here; it polls its table once a second.
if CELERY_BROKER_URL.startswith("redis"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": WEARVIEW_BROKER_VISIBILITY_TIMEOUT}

# Shopify.
SHOPIFY_API_KEY = env.get_secret(
    "SHOPIFY_API_KEY", debug=DEBUG, var_dir=VAR_DIR, generate=lambda: "wearview-dev-app"
)
SHOPIFY_API_SECRET = env.get_secret(
    "SHOPIFY_API_SECRET", debug=DEBUG, var_dir=VAR_DIR, generate=env.generate_token
)
SHOPIFY_API_VERSION = env.get_str("SHOPIFY_API_VERSION", "2026-10")
SHOPIFY_SCOPES = env.get_str("SHOPIFY_SCOPES", "read_products,write_products,write_files")
# Base URL of the Shopify Admin API host. Empty means the real https://{shop} host; the demo
# and the tests point it at the local dev store.
SHOPIFY_ADMIN_BASE_URL = env.get_str("SHOPIFY_ADMIN_BASE_URL")
SHOPIFY_HTTP_TIMEOUT = env.get_float("SHOPIFY_HTTP_TIMEOUT", 20.0)
WEARVIEW_APP_URL = env.get_str("WEARVIEW_APP_URL", "http://127.0.0.1:8000")

# Tokens at rest are encrypted with Fernet. WEARVIEW_ENCRYPTION_KEY takes one key or several
# separated by commas, newest first, so keys can be rotated without losing stored tokens.
WEARVIEW_ENCRYPTION_KEY = env.get_secret(
    "WEARVIEW_ENCRYPTION_KEY",
    debug=DEBUG,
    var_dir=VAR_DIR,
    generate=lambda: Fernet.generate_key().decode(),
)

# Engine: "tiny" is the small pipeline built from code; anything else is a diffusers model id
# or a local folder.
WEARVIEW_MODEL = env.get_str("WEARVIEW_MODEL", "tiny")
# Default sampling parameters of a new job; a job's own parameters override them.
WEARVIEW_DEFAULT_SEEDS = [
    int(seed) for seed in env.get_str("WEARVIEW_DEFAULT_SEEDS", "11,23").split(",") if seed
]
WEARVIEW_DEFAULT_STEPS = env.get_int("WEARVIEW_DEFAULT_STEPS", 20)
WEARVIEW_DEFAULT_GUIDANCE = env.get_float("WEARVIEW_DEFAULT_GUIDANCE", 6.0)
# Seconds a job may stay in a working state before the reconciliation sweep restarts it. For a
# generating job they count from its last progress report, not from the start of generation.
WEARVIEW_QUEUED_LIMIT = env.get_int("WEARVIEW_QUEUED_LIMIT", 900)
WEARVIEW_PREPARING_LIMIT = env.get_int("WEARVIEW_PREPARING_LIMIT", 600)
WEARVIEW_GENERATING_LIMIT = env.get_int(
    "WEARVIEW_GENERATING_LIMIT", WEARVIEW_BROKER_VISIBILITY_TIMEOUT + 900
)
if CELERY_BROKER_URL.startswith("redis") and not (
    WEARVIEW_GPU_TIME_LIMIT < WEARVIEW_BROKER_VISIBILITY_TIMEOUT < WEARVIEW_GENERATING_LIMIT
):
    raise ImproperlyConfigured(
        f"WEARVIEW_GPU_TIME_LIMIT ({WEARVIEW_GPU_TIME_LIMIT}) < "
        f"WEARVIEW_BROKER_VISIBILITY_TIMEOUT ({WEARVIEW_BROKER_VISIBILITY_TIMEOUT}) < "
        f"WEARVIEW_GENERATING_LIMIT ({WEARVIEW_GENERATING_LIMIT}) must hold on a Redis broker: "
        "otherwise a generation runs twice. Raise the larger values or lower the smaller ones."
    )
# Seconds a publish may go without progress before the sweep sends its task again.
WEARVIEW_PUBLISHING_LIMIT = env.get_int("WEARVIEW_PUBLISHING_LIMIT", 1200)
# Portrait 4:5 canvas; both sides must be multiples of 64.
WEARVIEW_CANVAS_WIDTH = env.get_int("WEARVIEW_CANVAS_WIDTH", 512)
WEARVIEW_CANVAS_HEIGHT = env.get_int("WEARVIEW_CANVAS_HEIGHT", 640)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(process)d %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env.get_str("WEARVIEW_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
    },
}

if not DEBUG:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
