"""Background jobs (Django's Tasks API, the ``django-tasks`` backport on Django 5.2).

Tasks take the transfer's database id, never the object, and are enqueued only
once the transaction that created the transfer has committed.
"""
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from . import conf
from .models import TrainingRun, Transfer
from .processing import TOO_SLOW, delete_unreferenced_files, run_transfer
from .training_jobs import run_training

logger = logging.getLogger(__name__)

QUEUE_UNREACHABLE = "The job queue could not be reached, so this transfer was not started. Please try again."
WORKER_LOST = "The worker running this transfer stopped unexpectedly {attempts} times, so it was given up."
_PENDING = (Transfer.Status.QUEUED, Transfer.Status.RUNNING)


@task()
def stylize_transfer(transfer_id):
    run_transfer(transfer_id)


@task()
def train_style_network(run_id):
    run_training(run_id)


def enqueue_training(run_id):
    """Queue a training run in the slow queue once the current transaction commits."""
    transaction.on_commit(lambda: _enqueue_training_now(run_id))


def _enqueue_training_now(run_id):
    try:
        # Hours of work: the slow queue, so fast transfers never wait behind it.
        train_style_network.using(queue_name="slow").enqueue(run_id)
    except Exception:
        logger.exception("Could not enqueue training run %s.", run_id)
        TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
            status=TrainingRun.Status.FAILED, error_message=QUEUE_UNREACHABLE, finished_at=timezone.now())


def enqueue_transfer(transfer_id, queue="default"):
    """Queue the transfer in ``queue`` (its method's) for a worker once the current transaction commits."""
    transaction.on_commit(lambda: _enqueue_now(transfer_id, queue))


def _enqueue_now(transfer_id, queue):
    try:
        stylize_transfer.using(queue_name=queue).enqueue(transfer_id)
    except Exception:
        # Any backend failure (Redis down, database locked) must leave a readable
        # outcome rather than a transfer that stays queued forever.
        logger.exception("Could not enqueue transfer %s.", transfer_id)
        Transfer.objects.filter(pk=transfer_id, status=Transfer.Status.QUEUED).update(
            status=Transfer.Status.FAILED, error_message=QUEUE_UNREACHABLE, finished_at=timezone.now())


def rerun(transfer):
    """Queue a finished or failed transfer again from its stored inputs."""
    with transaction.atomic():
        reset = Transfer.objects.filter(pk=transfer.pk).exclude(status__in=_PENDING).update(
            status=Transfer.Status.QUEUED, error_message="", attempts=0, started_at=None, heartbeat_at=None,
            finished_at=None, result_image="", result_thumbnail="", result_width=None, result_height=None,
            preprocess_seconds=None, model_seconds=None, encode_seconds=None, queued_at=timezone.now(),
            progress=None, progress_steps=0, preview_image="")
        if reset:
            transaction.on_commit(lambda: delete_unreferenced_files(Transfer.objects.get(pk=transfer.pk)))
            enqueue_transfer(transfer.pk, transfer.queue)
    return bool(reset)


def cancel(transfer):
    """Cancel a queued or running transfer; returns whether it was still pending.

    A queued job is skipped when a worker reaches it. A running one loses its claim:
    its worker notices at the next heartbeat or progress report, stops, and deletes
    what it wrote. Files already stored for it (a preview) go now.
    """
    with transaction.atomic():
        stopped = Transfer.objects.filter(pk=transfer.pk, status__in=_PENDING).update(
            status=Transfer.Status.CANCELLED, finished_at=timezone.now(), progress=None, preview_image="")
        if stopped:
            transaction.on_commit(lambda: delete_unreferenced_files(Transfer.objects.get(pk=transfer.pk)))
    return bool(stopped)


def recover_stalled_transfers():
    """Hand transfers of dead workers to another attempt, or fail them with a reason.

    A running transfer with no heartbeat for ``NST_STALE_AFTER`` seconds lost its
    worker: it is queued again until ``NST_MAX_ATTEMPTS`` starts, then failed. One
    running past ``NST_JOB_TIME_LIMIT`` is failed. Files the dead worker left are
    removed. Safe to call from every worker at once. Returns how many it recovered.
    """
    now = timezone.now()
    overdue = [transfer for queue in conf.QUEUES for transfer in Transfer.objects.overdue(
        now - timedelta(seconds=conf.job_time_limit(queue) + conf.stale_after()), queue)]
    stalled = Transfer.objects.stalled(now - timedelta(seconds=conf.stale_after()))
    recovered = 0
    for transfer in overdue:
        message = TOO_SLOW.format(limit=conf.job_time_limit(transfer.queue))
        recovered += _abandon(transfer, retry=False, message=message)
    for transfer in stalled.exclude(pk__in=[t.pk for t in overdue]):
        retry = transfer.attempts < conf.max_attempts()
        recovered += _abandon(transfer, retry, WORKER_LOST.format(attempts=transfer.attempts))
    return recovered


def _abandon(transfer, retry, message):
    fields = ({"status": Transfer.Status.QUEUED, "started_at": None, "heartbeat_at": None,
               "queued_at": timezone.now()} if retry else
              {"status": Transfer.Status.FAILED, "error_message": message, "finished_at": timezone.now()})
    fields.update(progress=None, progress_steps=0, preview_image="")
    with transaction.atomic():
        taken = Transfer.objects.filter(pk=transfer.pk, status=Transfer.Status.RUNNING,
                                        attempts=transfer.attempts).update(**fields)
        if not taken:
            return 0
        logger.warning("Transfer %s lost its worker on attempt %d; %s.", transfer.public_id, transfer.attempts,
                       "queued again" if retry else "failed")
        # Read the row again: the files it points to now, not those the dead attempt had.
        transaction.on_commit(lambda: delete_unreferenced_files(Transfer.objects.get(pk=transfer.pk)))
        if retry:
            enqueue_transfer(transfer.pk, transfer.queue)
    return 1
