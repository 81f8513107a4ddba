"""Real worker processes on the database queue and on Redis with RQ, including a killed worker."""
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.urls import reverse
from PIL import Image

from tfapp.models import Transfer

from .conftest import CONTENT_DIR, media_files, upload

ROOT = Path(__file__).resolve().parent.parent
REDIS_SERVER = shutil.which("redis-server")

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
REDIS_QUEUE = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}


@pytest.fixture
def redis_url(tmp_path):
    """A real redis-server on a free loopback port, for this test only."""
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed")
    from bench._common import free_port

    port = free_port()
    server = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    _wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout == b"PONG\n",
              timeout=10)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait()


@pytest.fixture(params=["database", "redis"])
def queue(request, settings):
    """Point this process and its workers at the real database queue or at Redis."""
    extra_env = {}
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "django_rq"]
        settings.RQ_QUEUES = {"default": {"URL": url}}
        settings.TASKS = REDIS_QUEUE
        extra_env["NST_REDIS_URL"] = url
    else:
        settings.TASKS = DATABASE_QUEUE
    return extra_env


@pytest.fixture
def workers(settings, queue, tmp_path):
    """Start real `manage.py worker` processes sharing this test's database and media folder."""
    settings.NST_MAX_PENDING_PER_CLIENT = 50
    started = []

    def start(**overrides):
        env = dict(os.environ, DJANGO_SETTINGS_MODULE="nst_site.settings.development",
                   NST_DB_PATH=connection.settings_dict["NAME"], NST_MEDIA_ROOT=str(settings.MEDIA_ROOT),
                   NST_ENGINE="lite", NST_LITE_MODEL_DIR=str(django_settings.NST_LITE_MODEL_DIR),
                   NST_ENGINE_THREADS="1", NST_STALE_AFTER="3", NST_HEARTBEAT_SECONDS="0.5", **queue,
                   **{key: str(value) for key, value in overrides.items()})
        log = open(tmp_path / f"worker-{len(started)}.log", "w")
        process = subprocess.Popen([sys.executable, "manage.py", "worker"], cwd=ROOT, env=env, stdout=log,
                                   stderr=subprocess.STDOUT)
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


def _wait_for(condition, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"condition not met within {timeout} s")


def _submit(client, size=(512, 384)):
    photo = Image.open(CONTENT_DIR / "coffee.png").convert("RGB").resize(size)
    response = client.post(reverse("tfapp:upload"), {"content_image": upload(image=photo),
                                                     "style_image": upload("style.png")})
    assert response.status_code == 302
    return Transfer.objects.get(public_id=response["Location"].rstrip("/").split("/")[-1])


def _all_done():
    return not Transfer.objects.exclude(status=Transfer.Status.DONE).exists()


def test_two_workers_share_the_queue(client, workers):
    """Two worker processes both take transfers, and every transfer finishes."""
    workers()
    workers()
    transfers = [_submit(client) for _ in range(8)]
    _wait_for(_all_done, timeout=90)
    ran_by = set(Transfer.objects.values_list("worker", flat=True))
    assert len(ran_by) == 2
    assert all(t.attempts == 1 for t in Transfer.objects.all())
    assert len(transfers) == Transfer.objects.finished().count()


def _kill_mid_job(client, settings, workers, **worker_settings):
    settings.NST_MAX_CONTENT_SIZE = 2048
    victim = workers(**worker_settings)
    transfer = _submit(client, size=(2048, 1536))
    _wait_for(lambda: Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.RUNNING, timeout=60)
    time.sleep(1.0)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    workers(**worker_settings)
    return transfer


def test_killed_worker_job_is_retried_and_finishes(client, settings, workers, isolated_storage):
    """SIGKILL in the middle of a job: another worker retries it; no orphaned or partial file remains."""
    transfer = _kill_mid_job(client, settings, workers)
    _wait_for(lambda: Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.DONE, timeout=120)
    transfer.refresh_from_db()
    assert transfer.attempts == 2
    assert media_files(isolated_storage) == sorted(f.name for f in transfer.files())
    with transfer.result_image.open("rb") as stored:
        assert Image.open(stored).size == (2048, 1536)


def test_killed_worker_job_fails_with_a_reason_after_max_attempts(client, settings, workers, isolated_storage):
    """With NST_MAX_ATTEMPTS=1, the killed job is failed with a readable reason and no result file."""
    transfer = _kill_mid_job(client, settings, workers, NST_MAX_ATTEMPTS=1)
    _wait_for(lambda: Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.FAILED, timeout=60)
    transfer.refresh_from_db()
    assert "stopped unexpectedly 1 times" in transfer.error_message
    assert not any("result" in name for name in media_files(isolated_storage))
