"""Test settings: fast password hashing, in-memory database, no network."""
import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F401,F403
from .base import BASE_DIR, DATABASES

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, so that worker processes started by the tests share it.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"nst-test-{os.getpid()}.sqlite3")}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
NST_ENGINE = "lite"

# Real weights and images for the tests come from the shared folder beside the project.
SHARED_DIR = Path(os.environ.get("NST_SHARED_DIR", BASE_DIR.parent / "shared"))
NST_LITE_MODEL_DIR = SHARED_DIR / "models" / "magenta-lite"
NST_ADAIN_MODEL_DIR = SHARED_DIR / "models" / "adain-vgg19"
NST_VGG_WEIGHTS = SHARED_DIR / "models" / "vgg19-normalised" / "vgg19_normalised_relu4_1.npz"

# Unit tests run each job inline when it is enqueued; the worker tests start real
# worker processes against the database queue and a real Redis instead.
TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}

# In-process tests run each job inside the test's open transaction, which holds SQLite's
# write lock; a heartbeat from its side thread would wait for that lock until the job ends.
# The worker tests give their worker processes a short heartbeat of their own.
NST_HEARTBEAT_SECONDS = 3600

# Long enough for the browser test to see the result page follow a transfer; short so a
# request still waiting when a test ends lets go of its database connection soon.
NST_STATUS_WAIT = 5
