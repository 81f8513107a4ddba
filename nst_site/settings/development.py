"""Local development and single-machine self-hosting: DEBUG on, static and media served by Django."""
from .base import *  # noqa: F401,F403
from .base import SECRET_KEY

DEBUG = True
SECRET_KEY = SECRET_KEY or "development-only-not-secret"
ALLOWED_HOSTS = ["*"]
