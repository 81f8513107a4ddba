"""Real worker processes on the database queue and on Redis with RQ, including a killed worker."""
import shutil
import signal
import subprocess
import time

import pytest
from django.urls import reverse
from PIL import Image

from tfapp.models import Transfer

from .conftest import CONTENT_DIR, done_with_previews, media_files, upload, wait_for

REDIS_SERVER = shutil.which("redis-server")

pytestmark = [pytest.mark.workers, pytest.mark.django_db(transaction=True)]

DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "slow"]}}
REDIS_QUEUE = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default", "slow"]}}


@pytest.fixture
def redis_url(tmp_path):
    """A real redis-server on a free loopback port, for this test only."""
    if not REDIS_SERVER:
        pytest.skip("redis-server is not installed")
    from bench._common import free_port

    port = free_port()
    server = subprocess.Popen([REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                               "--appendonly", "no", "--dir", str(tmp_path)], stdout=subprocess.DEVNULL)
    wait_for(lambda: subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True).stdout == b"PONG\n",
              timeout=10)
    yield f"redis://127.0.0.1:{port}/0"
    server.terminate()
    server.wait()


@pytest.fixture(params=["database", "redis"])
def worker_queue(request, settings):
    """Point this process and its workers at the real database queue or at Redis (overrides conftest's)."""
    extra_env = {}
    if request.param == "redis":
        url = request.getfixturevalue("redis_url")
        settings.RQ_QUEUES = {"default": {"URL": url}, "slow": {"URL": url}}
        settings.TASKS = REDIS_QUEUE
        extra_env["NST_REDIS_URL"] = url
    else:
        settings.TASKS = DATABASE_QUEUE
    return extra_env


def _submit(client, size=(512, 384)):
    photo = Image.open(CONTENT_DIR / "coffee.png").convert("RGB").resize(size)
    response = client.post(reverse("tfapp:upload"), {"content_image": upload(image=photo),
                                                     "style_image": upload("style.png")})
    assert response.status_code == 302
    return Transfer.objects.get(public_id=response["Location"].rstrip("/").split("/")[-1])


def _all_done():
    return not Transfer.objects.exclude(status=Transfer.Status.DONE).exists()


def test_two_workers_share_the_queue(client, workers, tmp_path):
    """Two worker processes both take transfers, and every transfer finishes."""
    workers()
    workers()
    # Both have loaded their model (else the first one ready could take all eight).
    logs = [tmp_path / f"worker-{number}.log" for number in (0, 1)]
    wait_for(lambda: all(" ready (pid " in log.read_text() for log in logs), timeout=120)
    transfers = [_submit(client) for _ in range(8)]
    wait_for(_all_done, timeout=90)
    ran_by = set(Transfer.objects.values_list("worker", flat=True))
    assert len(ran_by) == 2
    assert all(t.attempts == 1 for t in Transfer.objects.all())
    assert len(transfers) == Transfer.objects.finished().count()


def _kill_mid_job(client, settings, workers, **worker_settings):
    settings.NST_MAX_CONTENT_SIZE = 2048
    victim = workers(**worker_settings)
    transfer = _submit(client, size=(2048, 1536))
    wait_for(lambda: Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.RUNNING, timeout=60)
    time.sleep(1.0)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    workers(**worker_settings)
    return transfer


def test_killed_worker_job_is_retried_and_finishes(client, settings, workers, isolated_storage):
    """SIGKILL in the middle of a job: another worker retries it; no orphaned or partial file remains."""
    transfer = _kill_mid_job(client, settings, workers)
    wait_for(lambda: done_with_previews(transfer), timeout=120)
    transfer.refresh_from_db()
    assert transfer.attempts == 2
    assert media_files(isolated_storage) == sorted(f.name for f in transfer.files())
    with transfer.result_image.open("rb") as stored:
        assert Image.open(stored).size == (2048, 1536)


def test_killed_worker_job_fails_with_a_reason_after_max_attempts(client, settings, workers, isolated_storage):
    """With NST_MAX_ATTEMPTS=1, the killed job is failed with a readable reason and no result file."""
    transfer = _kill_mid_job(client, settings, workers, NST_MAX_ATTEMPTS=1)
    wait_for(lambda: Transfer.objects.get(pk=transfer.pk).status == Transfer.Status.FAILED, timeout=60)
    transfer.refresh_from_db()
    assert "stopped unexpectedly 1 times" in transfer.error_message
    assert not any("result" in name for name in media_files(isolated_storage))


def _stopped_with_running(worker, at_least):
    """Stop (SIGSTOP) ``worker`` at a moment it holds ``at_least`` running transfers; returns their ids."""
    while True:
        wait_for(lambda: Transfer.objects.filter(status=Transfer.Status.RUNNING).count() >= at_least, timeout=60)
        worker.send_signal(signal.SIGSTOP)
        running = set(Transfer.objects.filter(status=Transfer.Status.RUNNING).values_list("pk", flat=True))
        if len(running) >= at_least:
            return running
        worker.send_signal(signal.SIGCONT)


def test_killed_worker_transfers_in_its_stages_go_to_another_worker(client, workers, isolated_storage):
    """SIGKILL while a worker holds a transfer in its model and the next one read (or the last one being stored).

    It never holds more than three; each of them is run again, once, by another worker,
    and every transfer finishes with no file left over.
    """
    victim = workers("--queues", "default")
    transfers = [_submit(client) for _ in range(12)]
    running = _stopped_with_running(victim, at_least=2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert len(running) <= 3
    workers("--queues", "default")
    wait_for(lambda: all(done_with_previews(transfer) for transfer in transfers), timeout=120)
    attempts = dict(Transfer.objects.values_list("pk", "attempts"))
    assert {pk for pk, count in attempts.items() if count == 2} == running
    assert set(attempts.values()) <= {1, 2}
    assert media_files(isolated_storage) == sorted(stored.name for transfer in Transfer.objects.all()
                                                   for stored in transfer.files())
