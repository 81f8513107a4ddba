"""Settings shared by every environment.

Deployment values come from the environment; see README.md for the list.
"""
import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
DEBUG = False
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_tasks",
    "django_tasks_db",
    "csp",
    "ninja",
    "tfapp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files straight after the security headers, before sessions and the rest.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

# Django's database sessions, read with a plain query (every page reads one; see tfapp.sessions).
SESSION_ENGINE = "tfapp.sessions"

# Every script and style comes from a static file: no inline code runs, and no page can be framed.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "blob:"],
        # blob: lets the upload page read the chosen clip's size and duration, to estimate its time.
        "media-src": [SELF, "blob:"],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
X_FRAME_OPTIONS = "DENY"
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CONTENT_TYPE_NOSNIFF = True

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "tfapp:upload"
LOGOUT_REDIRECT_URL = "tfapp:upload"

ROOT_URLCONF = "nst_site.urls"
WSGI_APPLICATION = "nst_site.wsgi.application"

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

if "DATABASE_URL" in os.environ:
    # postgres://USER:PASSWORD@HOST:PORT/NAME, for workers on several machines.
    _url = urlsplit(os.environ["DATABASE_URL"])
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": _url.path.lstrip("/"),
            "USER": unquote(_url.username or ""),
            "PASSWORD": unquote(_url.password or ""),
            "HOST": _url.hostname or "",
            "PORT": _url.port or "",
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(os.environ.get("NST_DB_PATH", BASE_DIR / "var" / "db.sqlite3")),
            # Each web thread keeps its connection: opening one (and its PRAGMAs) cost more than most queries.
            "CONN_MAX_AGE": None,
            # The web server and the workers write concurrently: WAL lets readers run
            # beside a writer, IMMEDIATE takes the write lock up front instead of
            # failing mid-transaction, and the timeout waits for it.
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            },
        }
    }

# Background jobs: a queue in the database by default; Redis + RQ when NST_REDIS_URL is set.
NST_REDIS_URL = os.environ.get("NST_REDIS_URL", "")
if NST_REDIS_URL:
    INSTALLED_APPS.insert(INSTALLED_APPS.index("tfapp"), "django_rq")
    TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", "slow"]}}
    RQ_QUEUES = {queue: {"URL": NST_REDIS_URL, "DEFAULT_TIMEOUT": -1} for queue in ("default", "slow")}
else:
    # "default" for fast transfers, "slow" for minutes-long ones (tfapp.conf.QUEUES), so neither waits on the other.
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "slow"]}}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", BASE_DIR / "var" / "static"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("NST_MEDIA_ROOT", BASE_DIR / "media"))

# Uploads larger than this are streamed to a temporary file rather than held in memory;
# the hard limits on what a user may upload are NST_MAX_UPLOAD_BYTES and NST_MAX_UPLOAD_PIXELS.
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Style-transfer settings (documented with their defaults in tfapp/conf.py).
NST_ENGINE = os.environ.get("NST_ENGINE", "hub")
NST_MODEL_DIR = Path(os.environ.get("NST_MODEL_DIR", BASE_DIR / "var" / "models"))
if "NST_HUB_HANDLE" in os.environ:
    NST_HUB_HANDLE = os.environ["NST_HUB_HANDLE"]
if "NST_LITE_MODEL_DIR" in os.environ:
    NST_LITE_MODEL_DIR = Path(os.environ["NST_LITE_MODEL_DIR"])
for _name in ("NST_VGG_WEIGHTS", "NST_ADAIN_MODEL_DIR", "NST_TRAINED_MODEL_DIR"):
    if _name in os.environ:
        globals()[_name] = Path(os.environ[_name])
# Numeric limits a deployment may tune from the environment; tfapp/conf.py has the
# defaults and converts each to the type it needs.
_NUMERIC_SETTINGS = ("NST_ENGINE_THREADS", "NST_MAX_PENDING_PER_CLIENT", "NST_MAX_PENDING_TOTAL",
                     "NST_MAX_ATTEMPTS", "NST_JOB_TIME_LIMIT", "NST_MAX_CONTENT_SIZE", "NST_STALE_AFTER",
                     "NST_HEARTBEAT_SECONDS", "NST_MAX_OUTPUT_SIZE", "NST_STATUS_WAIT", "NST_API_RATE_LIMIT",
                     "NST_WEB_PROCESSES", "NST_WEB_THREADS", "NST_SLOW_JOB_TIME_LIMIT", "NST_SLOW_WORKERS",
                     "NST_SLOW_WORKER_NICE", "NST_WORKER_NICE", "NST_PREVIEW_INTERVAL")
_NUMERIC_SETTINGS += ("NST_VIDEO_MAX_SECONDS", "NST_VIDEO_MAX_SIDE", "NST_VIDEO_MAX_FRAMES", "NST_VIDEO_MAX_BYTES",
                      "NST_VIDEO_CONSISTENCY")
globals().update({name: float(os.environ[name]) for name in _NUMERIC_SETTINGS if name in os.environ})
# Switches: 1/true/yes/on turn them on, anything else off.
_BOOLEAN_SETTINGS = ("NST_SIGNUP_OPEN", "NST_API_ANONYMOUS", "NST_WORKER_OVERLAP")
globals().update({name: os.environ[name].strip().lower() in ("1", "true", "yes", "on")
                  for name in _BOOLEAN_SETTINGS if name in os.environ})
for _name in ("NST_MODEL_BASE_URL", "NST_ADAIN_BASE_URL"):
    if _name in os.environ:
        globals()[_name] = os.environ[_name]
NST_RUNTIME = os.environ.get("NST_RUNTIME", "")
NST_PRECISION = os.environ.get("NST_PRECISION", "auto")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"tfapp": {"handlers": ["console"], "level": "INFO"}},
}
