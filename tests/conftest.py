import io
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from PIL import Image

from tfapp import engines
from tfapp.models import Transfer
from tfapp.progress import watcher

ROOT = Path(__file__).resolve().parent.parent
SHARED_DIR = django_settings.SHARED_DIR
CHROMIUM = os.environ.get("NST_CHROMIUM", "/usr/bin/chromium")
# Without these, Chromium keeps trying to reach Google's services, which this network refuses.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
CONTENT_DIR = SHARED_DIR / "images" / "content"
STYLE_DIR = SHARED_DIR / "images" / "style"


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    """Every test writes media and downloaded models into its own temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.NST_MODEL_DIR = tmp_path / "models"
    settings.NST_TRAINED_MODEL_DIR = tmp_path / "trained"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def no_watching_after_the_test():
    """The status watcher follows answered transfers a while; not into the next test, which may lack a database."""
    yield
    watcher.stop_lingering()


@pytest.fixture
def browser(monkeypatch):
    """A real headless Chromium, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls of the test are
    # still synchronous, so Django's async-safety guard would refuse them.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
        # Inside Playwright's sync API the ORM gives this thread a second database connection,
        # which Django's teardown does not know of: close it, or PostgreSQL cannot drop the test database.
        connection.close()


@pytest.fixture
def fresh_engine():
    """Forget the cached engine before and after a test that changes engine settings."""
    engines.reset()
    yield
    engines.reset()


def make_image(size=(64, 48), mode="RGB", color=None, pattern=True):
    """A small Pillow image built in memory; ``pattern`` adds a gradient so it is not flat."""
    width, height = size
    if pattern:
        x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
        y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
        rgb = np.stack([x + 0 * y, y + 0 * x, 255 - (x + y) / 2], axis=-1).astype(np.uint8)
        return Image.fromarray(rgb, "RGB").convert(mode)
    return Image.new(mode, size, color)


def image_bytes(image, image_format="PNG", **save_options):
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **save_options)
    return buffer.getvalue()


def upload(name="photo.png", image=None, image_format="PNG", content_type="image/png"):
    """An uploaded file as a browser would send it."""
    data = image_bytes(image or make_image(), image_format)
    return SimpleUploadedFile(name, data, content_type=content_type)


def shared_upload(path):
    path = Path(path)
    return SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/png")


def media_files(media_root):
    """All files under the media folder, relative paths."""
    root = Path(media_root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []


def wait_for(condition, timeout):
    """Poll ``condition`` until it is true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def done_with_previews(transfer):
    """Done, and the worker has stored every preview it makes after the result (the styles' come last)."""
    transfer.refresh_from_db()
    previews = [transfer.result_thumbnail, transfer.content_thumbnail]
    previews += [style.thumbnail for style in transfer.styles.all()]
    return transfer.status == Transfer.Status.DONE and all(previews)


@pytest.fixture
def worker_queue(settings):
    """This process enqueues into the real database queue; returns extra environment for workers."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "slow"]}}
    return {}


@pytest.fixture
def workers(settings, worker_queue, tmp_path):
    """Start real `manage.py worker` processes sharing this test's database and media folder.

    ``start("--queues", "slow", NST_X=...)``: command-line arguments, then settings for the worker.
    """
    settings.NST_MAX_PENDING_PER_CLIENT = 50
    started = []

    def start(*arguments, **overrides):
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="nst_site.settings.development",
                   NST_MEDIA_ROOT=str(settings.MEDIA_ROOT), NST_ENGINE="lite",
                   NST_LITE_MODEL_DIR=str(django_settings.NST_LITE_MODEL_DIR), NST_ENGINE_THREADS="1",
                   NST_ADAIN_MODEL_DIR=str(django_settings.NST_ADAIN_MODEL_DIR),
                   NST_VGG_WEIGHTS=str(django_settings.NST_VGG_WEIGHTS),
                   NST_STALE_AFTER="3", NST_HEARTBEAT_SECONDS="0.5", **_test_database_env(), **worker_queue,
                   **{key: str(value) for key, value in overrides.items()})
        with open(tmp_path / f"worker-{len(started)}.log", "w") as log:
            process = subprocess.Popen([sys.executable, "manage.py", "worker", *arguments], cwd=ROOT, env=env,
                                       stdout=log, stderr=subprocess.STDOUT)
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.terminate()
    for process in started:
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()


def _test_database_env():
    """Environment that points a worker process at the database this test session uses."""
    database = connection.settings_dict
    if connection.vendor == "postgresql":
        return {"DATABASE_URL": f"postgres://{database['USER']}:{database['PASSWORD']}@{database['HOST']}:"
                                f"{database['PORT'] or 5432}/{database['NAME']}"}
    return {"NST_DB_PATH": str(database["NAME"])}
