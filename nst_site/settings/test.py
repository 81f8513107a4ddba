"""Test settings: fast password hashing, in-memory database, no network."""
import os
from pathlib import Path

from .base import *  # noqa: F401,F403
from .base import BASE_DIR

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
NST_ENGINE = "lite"

# Real weights and images for the tests come from the shared folder beside the project.
SHARED_DIR = Path(os.environ.get("NST_SHARED_DIR", BASE_DIR.parent / "shared"))
NST_LITE_MODEL_DIR = SHARED_DIR / "models" / "magenta-lite"
