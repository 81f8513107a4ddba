"""Transfers as background jobs: queueing, status, retries and recovery, within one process."""
import os
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import OperationalError, connection
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from PIL import Image

from tfapp import jobs, processing, tasks
from tfapp.changes import DatabaseChanges
from tfapp.management.commands.worker import LOCKED, QueueWorker
from tfapp.imaging import THUMBNAIL_SIZE
from tfapp.models import Transfer
from tfapp.pipeline import Options
from tfapp.processing import StyleChoice, create_transfer, run_transfer

from .conftest import make_image, media_files, upload
from .factories import image_input, make_transfer

pytestmark = pytest.mark.django_db

DATABASE_QUEUE = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}


def _post(client, captured):
    with captured(execute=True):
        return client.post(reverse("tfapp:upload"), {"content_image": upload(image=make_image((64, 48))),
                                                     "style_image": upload("style.png")})


def test_upload_returns_at_once_with_the_transfer_queued(client, settings, django_capture_on_commit_callbacks):
    """With a real queue, the request only stores the upload and enqueues a job that takes its id."""
    settings.TASKS = DATABASE_QUEUE
    response = _post(client, django_capture_on_commit_callbacks)
    transfer = Transfer.objects.get()
    assert response.status_code == 302
    assert transfer.status == Transfer.Status.QUEUED and not transfer.result_image
    job = DBTaskResult.objects.get()
    assert job.args_kwargs["args"] == [transfer.pk]


def test_no_job_is_enqueued_before_the_transaction_commits(client, settings, django_capture_on_commit_callbacks):
    """The job is enqueued on commit, so a worker never looks for a row that is not there yet."""
    settings.TASKS = DATABASE_QUEUE
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        client.post(reverse("tfapp:upload"), {"content_image": upload(), "style_image": upload()})
    assert DBTaskResult.objects.count() == 0
    for callback in callbacks:
        callback()
    assert DBTaskResult.objects.count() == 1


def test_status_endpoint_reports_queue_position(client):
    """Queued transfers report their place in line; the second in line is at position 2."""
    first, second = make_transfer(run=False), make_transfer(run=False)
    payload = client.get(reverse("tfapp:status", args=[second.public_id])).json()
    assert payload["status"] == "queued"
    assert payload["queue_position"] == 2
    assert client.get(reverse("tfapp:status", args=[first.public_id])).json()["queue_position"] == 1


def test_status_endpoint_reports_the_result(client):
    """A finished transfer's status links to its result image."""
    transfer = make_transfer()
    payload = client.get(reverse("tfapp:status", args=[transfer.public_id])).json()
    assert payload["status"] == "done"
    assert payload["result_url"] == transfer.result_image.url
    assert payload["queue_position"] is None


def test_job_moves_from_queued_through_running_to_done_with_timestamps():
    """A worker claims the job, records who ran it, and stamps start and finish."""
    transfer = make_transfer(run=False)
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.DONE
    assert transfer.attempts == 1 and transfer.worker
    assert transfer.queued_at <= transfer.started_at <= transfer.finished_at


def test_a_transfer_is_only_run_by_the_first_worker_to_claim_it():
    """Running an already finished transfer again does nothing."""
    transfer = make_transfer()
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.attempts == 1


def test_unreadable_stored_input_fails_with_a_sentence(isolated_storage):
    """A job whose input cannot be decoded fails with a readable reason and no result file."""
    transfer = make_transfer(run=False)
    transfer.content_image.storage.delete(transfer.content_image.name)
    transfer.content_image.storage.save(transfer.content_image.name, ContentFile(b"garbage"))
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.FAILED
    assert "could not be read as an image" in transfer.error_message
    assert not any("result" in name for name in media_files(isolated_storage))


def test_failed_page_offers_try_again_which_queues_it_again(client, django_user_model,
                                                           django_capture_on_commit_callbacks):
    """'Try again' on a failed transfer re-runs it from the stored inputs."""
    owner = django_user_model.objects.create_user("ada", password="a long passphrase 42")
    client.force_login(owner)
    transfer = make_transfer(run=False, owner=owner)
    Transfer.objects.filter(pk=transfer.pk).update(status=Transfer.Status.FAILED, error_message="Boom.")
    page = client.get(transfer.get_absolute_url()).content.decode()
    assert "Boom." in page and reverse("tfapp:retry", args=[transfer.public_id]) in page
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tfapp:retry", args=[transfer.public_id]))
    transfer.refresh_from_db()
    assert response.status_code == 302
    assert transfer.status == Transfer.Status.DONE and transfer.error_message == ""


def test_try_again_is_refused_for_transfers_that_did_not_fail(client, django_user_model):
    """Only failed transfers can be re-run from the page."""
    owner = django_user_model.objects.create_user("ada", password="a long passphrase 42")
    client.force_login(owner)
    transfer = make_transfer(owner=owner)
    assert client.post(reverse("tfapp:retry", args=[transfer.public_id])).status_code == 404


def test_only_the_owner_can_try_a_failed_transfer_again(client, django_user_model):
    """Someone else with the link sees why it failed but no 'Try again', and posting it is refused."""
    owner = django_user_model.objects.create_user("ada", password="a long passphrase 42")
    transfer = make_transfer(run=False, owner=owner)
    Transfer.objects.filter(pk=transfer.pk).update(status=Transfer.Status.FAILED, error_message="Boom.")
    page = client.get(transfer.get_absolute_url()).content.decode()
    assert "Boom." in page and reverse("tfapp:retry", args=[transfer.public_id]) not in page
    assert client.post(reverse("tfapp:retry", args=[transfer.public_id])).status_code == 403
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.FAILED


def _stall(transfer, attempts, seconds_ago=60):
    long_ago = timezone.now() - timedelta(seconds=seconds_ago)
    Transfer.objects.filter(pk=transfer.pk).update(status=Transfer.Status.RUNNING, attempts=attempts,
                                                   started_at=long_ago, heartbeat_at=long_ago)


def test_stalled_transfer_is_queued_again(settings, django_capture_on_commit_callbacks):
    """A running transfer whose heartbeat stopped is retried and then finishes."""
    settings.NST_STALE_AFTER = 10
    transfer = make_transfer(run=False)
    _stall(transfer, attempts=1, seconds_ago=11)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.recover_stalled_transfers() == 1
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.DONE and transfer.attempts == 2


def test_transfer_with_a_recent_heartbeat_is_left_alone(settings):
    """A worker that is still reporting keeps its transfer."""
    settings.NST_STALE_AFTER = 10
    transfer = make_transfer(run=False)
    _stall(transfer, attempts=1, seconds_ago=5)
    assert tasks.recover_stalled_transfers() == 0


def test_stalled_transfer_fails_after_max_attempts(settings, django_capture_on_commit_callbacks):
    """After NST_MAX_ATTEMPTS starts, a transfer whose worker keeps dying fails with a reason."""
    settings.NST_MAX_ATTEMPTS = 2
    transfer = make_transfer(run=False)
    _stall(transfer, attempts=2)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.recover_stalled_transfers()
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.FAILED
    assert "stopped unexpectedly 2 times" in transfer.error_message


def test_transfer_over_the_time_limit_fails(settings, django_capture_on_commit_callbacks):
    """A transfer running past NST_JOB_TIME_LIMIT is failed, not retried."""
    settings.NST_JOB_TIME_LIMIT = 30
    transfer = make_transfer(run=False)
    _stall(transfer, attempts=1, seconds_ago=60)
    Transfer.objects.filter(pk=transfer.pk).update(heartbeat_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        tasks.recover_stalled_transfers()
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.FAILED
    assert "30 s limit" in transfer.error_message


def test_recovery_removes_files_a_dead_worker_left(settings, isolated_storage, django_capture_on_commit_callbacks):
    """A half-written result from a killed worker is deleted when the transfer is recovered."""
    settings.TASKS = DATABASE_QUEUE
    transfer = make_transfer(run=False)
    storage = transfer.content_image.storage
    storage.save(f"transfers/{transfer.public_id}/result.png", ContentFile(b"\x89PNG half"))
    _stall(transfer, attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.recover_stalled_transfers()
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.QUEUED
    assert media_files(isolated_storage) == sorted(f.name for f in transfer.files())
    assert not any("result" in name for name in media_files(isolated_storage))


def test_worker_that_lost_its_transfer_discards_its_result(isolated_storage, monkeypatch):
    """If a transfer was handed to another attempt meanwhile, the old worker's result is thrown away."""
    transfer = make_transfer(run=False)
    claim = jobs.claim

    def claim_then_get_taken_over(model, transfer_id):
        claimed = claim(model, transfer_id)
        model.objects.filter(pk=transfer_id).update(attempts=claimed.attempts + 1)
        return claimed

    monkeypatch.setattr(jobs, "claim", claim_then_get_taken_over)
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.RUNNING and not transfer.result_image
    assert not any("result" in name for name in media_files(isolated_storage))


def test_unreachable_queue_fails_the_transfer_with_a_reason(client, settings, django_capture_on_commit_callbacks):
    """If Redis cannot be reached, the user sees why instead of a transfer queued forever."""
    settings.RQ_QUEUES = {"default": {"URL": "redis://127.0.0.1:1/0", "SOCKET_CONNECT_TIMEOUT": 1}}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_rq.RQBackend", "QUEUES": ["default"]}}
    response = _post(client, django_capture_on_commit_callbacks)
    transfer = Transfer.objects.get()
    assert response.status_code == 302
    assert transfer.status == Transfer.Status.FAILED
    assert "job queue could not be reached" in transfer.error_message


def test_status_of_an_unknown_transfer_is_a_json_404(client):
    """Polling a deleted transfer answers 404 with a JSON reason, which the page can show."""
    import uuid

    response = client.get(reverse("tfapp:status", args=[uuid.uuid4()]))
    assert response.status_code == 404
    assert "no transfer with this id" in response.json()["error"]


def test_previews_are_stored_after_the_result_as_small_jpegs():
    """Once a transfer is done its worker stores JPEG previews of the photo, each style and the result."""
    transfer = make_transfer(size=(640, 480))
    previews = [transfer.content_thumbnail, transfer.result_thumbnail, transfer.first_style.thumbnail]
    for preview in previews:
        with preview.open("rb") as stored, Image.open(stored) as image:
            assert image.format == "JPEG" and max(image.size) <= THUMBNAIL_SIZE


def test_a_preview_that_cannot_be_made_leaves_the_transfer_done(client, monkeypatch):
    """A failing preview is logged; the transfer stays done and the gallery shows the full result."""
    def broken(image):
        raise OSError("disk full")

    monkeypatch.setattr(processing, "encode_thumbnail", broken)
    transfer = make_transfer()
    assert transfer.status == Transfer.Status.DONE and transfer.result_image
    assert not transfer.result_thumbnail
    Transfer.objects.filter(pk=transfer.pk).update(shared=True)  # so the public gallery lists it
    assert transfer.result_image.url in client.get(reverse("tfapp:gallery-public")).content.decode()


def test_a_done_transfer_names_the_engine_its_worker_ran():
    """The engine recorded is the worker's, even when the web process expected another."""
    transfer = create_transfer(image_input("photo.png", make_image((48, 32))),
                               [StyleChoice(image_input("style.png", make_image((32, 32))))], options=Options())
    Transfer.objects.filter(pk=transfer.pk).update(engine="hub")
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.DONE and transfer.engine == "lite"


@pytest.mark.django_db(transaction=True)
def test_database_queue_worker_survives_losing_the_database(settings, monkeypatch, caplog):
    """An error reaching the database while idle is logged, and the worker goes on to run the next transfer."""
    settings.TASKS = DATABASE_QUEUE
    transfer = make_transfer(run=False)
    tasks.enqueue_transfer(transfer.pk)
    outage = [OperationalError("server closed the connection unexpectedly")]
    check = DatabaseChanges.happened

    def flaky(changes):
        if outage:
            raise outage.pop()
        return check(changes)

    monkeypatch.setattr(DatabaseChanges, "happened", flaky)
    monkeypatch.setattr(QueueWorker, "LOOK_AT_LEAST_EVERY", 0.1)
    QueueWorker(queue_names=["default"], interval=0.01, batch=False, backend_name="default", startup_delay=False,
                max_tasks=1, worker_id="test", excluded_queue_names=[]).run()
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.DONE
    assert "Could not look at the queue" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_worker_woken_by_a_transfers_progress_goes_back_to_sleep_without_looking(settings, monkeypatch):
    """Progress and results ring the bell for the pages; a waiting worker looks at its queue only when a task is
    queued, and then claims it at once."""
    settings.TASKS = DATABASE_QUEUE
    transfer = make_transfer(run=False)
    monkeypatch.setattr(QueueWorker, "LOOK_AT_LEAST_EVERY", 60.0)
    looks, claim = [], QueueWorker._claim_next
    monkeypatch.setattr(QueueWorker, "_claim_next", lambda worker: looks.append(1) or claim(worker))
    looks_before_the_task = []

    def write_then_queue():
        while not looks:
            time.sleep(0.01)  # the worker's first look, at its start
        for step in range(5):
            Transfer.objects.filter(pk=transfer.pk).update(progress=step / 10)
            time.sleep(0.05)
        looks_before_the_task.append(len(looks))
        tasks.enqueue_transfer(transfer.pk)
        connection.close()

    writer = threading.Thread(target=write_then_queue)
    writer.start()
    started = time.monotonic()
    QueueWorker(queue_names=["default"], interval=10.0, batch=False, backend_name="default", startup_delay=False,
                max_tasks=1, worker_id="test", excluded_queue_names=[]).run()
    writer.join()
    transfer.refresh_from_db()
    assert looks_before_the_task == [1]
    assert transfer.status == Transfer.Status.DONE and time.monotonic() - started < 10.0


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("os.environ.get('DATABASE_URL')", reason="SQLite's write lock")
def test_a_worker_does_not_sleep_on_a_write_lock_another_process_holds(settings):
    """While another process writes, claiming answers LOCKED at once (the loop retries every ms); then it claims."""
    settings.TASKS = DATABASE_QUEUE
    transfer = make_transfer(run=False)
    tasks.enqueue_transfer(transfer.pk)
    worker = QueueWorker(queue_names=["default"], interval=0.01, batch=False, backend_name="default",
                         startup_delay=False, max_tasks=1, worker_id="test", excluded_queue_names=[])
    other = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        assert worker._claim_next() is LOCKED
    finally:
        other.execute("ROLLBACK")
        other.close()
    claimed = worker._claim_next()
    assert claimed.args_kwargs["args"] == [transfer.pk] and claimed.worker_ids == ["test"]


@pytest.mark.parametrize("options", [
    Options(method="adain", strength=0.37, preserve_colours=True, style_size=384, max_size=300),
    Options(method="gatys", quality="draft", strength=1.0),
    Options(method="magenta", strength=0.0, style_pooling=False),
])
def test_a_transfers_options_are_stored_and_read_back_unchanged(options):
    """The worker runs exactly the options the form resolved: stored in columns, read back equal."""
    resolved = options.resolved()
    transfer = Transfer(**processing.option_fields(resolved))
    assert processing.transfer_options(transfer).resolved() == resolved


def test_a_pipelined_worker_runs_each_job_through_its_stages_once_and_in_order():
    """run, then end with what run returned, then stopped; a run that gives None (or fails) skips to stopped."""
    events = []

    def run(number):
        events.append(("run", number))
        if number == 3:
            raise RuntimeError("a stage that fails")
        return None if number == 2 else number * 10

    with jobs.pipelined():
        for number in range(5):
            jobs.run_in_stages(lambda number=number: run(number), lambda value: events.append(("end", value)),
                               lambda number=number: events.append(("stopped", number)))
    assert [event for event in events if event[0] == "run"] == [("run", number) for number in range(5)]
    assert [event for event in events if event[0] == "end"] == [("end", 0), ("end", 10), ("end", 40)]
    assert sorted(event[1] for event in events if event[0] == "stopped") == list(range(5))
    for number in range(5):
        position = events.index(("stopped", number))
        assert events.index(("run", number)) < position
        if number in (0, 1, 4):
            assert events.index(("end", number * 10)) < position
