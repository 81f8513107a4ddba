"""Settings shared by every environment.

Deployment values come from the environment; see README.md for the list.
"""
import os
from pathlib import Path

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
    "tfapp",
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": Path(os.environ.get("NST_DB_PATH", BASE_DIR / "var" / "db.sqlite3")),
    }
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "var" / "static"
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
if "NST_MODEL_BASE_URL" in os.environ:
    NST_MODEL_BASE_URL = os.environ["NST_MODEL_BASE_URL"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"tfapp": {"handlers": ["console"], "level": "INFO"}},
}
