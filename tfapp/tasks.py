"""Background jobs (Django's Tasks API, the ``django-tasks`` backport on Django 5.2).

Tasks take the transfer's database id, never the object, and are enqueued only
once the transaction that created the transfer has committed.
"""
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django_tasks import task

from . import conf, jobs
from .models import TrainingRun, Transfer
from .processing import TOO_SLOW, delete_unreferenced_files, run_transfer
from .training_jobs import run_training

#: What a transfer's outcome fields go back to when it is queued again or given up.
_NO_PROGRESS = {"progress": None, "progress_steps": 0, "preview_image": "", "frames_done": 0}


@task()
def stylize_transfer(transfer_id):
    run_transfer(transfer_id)


@task()
def train_style_network(run_id):
    run_training(run_id)


def enqueue_training(run_id):
    """Queue a training run in the slow queue once the current transaction commits."""
    # Hours of work: the slow queue, so fast transfers never wait behind it.
    jobs.enqueue_or_fail(lambda: train_style_network.using(queue_name="slow").enqueue(run_id), TrainingRun, run_id,
                         "training run")


def submit(form):
    """Store a valid TransferForm's transfer and queue it for a worker: the page and the API both submit so."""
    transfer = form.save()
    enqueue_transfer(transfer.pk, transfer.queue)
    return transfer


def enqueue_transfer(transfer_id, queue="default"):
    """Queue the transfer in ``queue`` (its method's) for a worker once the current transaction commits."""
    jobs.enqueue_or_fail(lambda: stylize_transfer.using(queue_name=queue).enqueue(transfer_id), Transfer,
                         transfer_id, "transfer")


def rerun(transfer):
    """Queue a finished or failed transfer again from its stored inputs."""
    with transaction.atomic():
        reset = Transfer.objects.filter(pk=transfer.pk).exclude(status__in=Transfer.PENDING).update(
            status=Transfer.Status.QUEUED, error_message="", attempts=0, started_at=None, heartbeat_at=None,
            finished_at=None, result_image="", result_clip="", result_thumbnail="", result_width=None, result_height=None,
            preprocess_seconds=None, model_seconds=None, encode_seconds=None, queued_at=timezone.now(),
            **_NO_PROGRESS)
        if reset:
            _delete_files_it_no_longer_has(transfer)
            enqueue_transfer(transfer.pk, transfer.queue)
    return bool(reset)


def cancel(transfer):
    """Cancel a queued or running transfer; returns whether it was still pending.

    A queued job is skipped when a worker reaches it. A running one loses its claim:
    its worker notices at the next heartbeat or progress report, stops, and deletes
    what it wrote. Files already stored for it (a preview) go now.
    """
    with transaction.atomic():
        stopped = jobs.cancel(transfer, progress=None, preview_image="")
        if stopped:
            _delete_files_it_no_longer_has(transfer)
    return stopped


def recover_stalled_transfers():
    """Hand transfers of dead workers to another attempt, or fail them with a reason.

    A running transfer with no heartbeat for ``NST_STALE_AFTER`` seconds lost its
    worker: it is queued again until ``NST_MAX_ATTEMPTS`` starts, then failed (see
    :func:`tfapp.jobs.recover_stalled`). One running past ``NST_JOB_TIME_LIMIT`` is
    failed. Files the dead worker left are removed. Safe to call from every worker at
    once. Returns how many it recovered.
    """
    now = timezone.now()
    overdue = [transfer for queue in conf.QUEUES for transfer in Transfer.objects.overdue(
        now - timedelta(seconds=conf.job_time_limit(queue) + conf.stale_after()), queue)]
    recovered = sum(jobs.abandon(transfer, False, TOO_SLOW.format(limit=conf.job_time_limit(transfer.queue)),
                                 _requeue, give_up_fields=_NO_PROGRESS, after=_after_abandoned)
                    for transfer in overdue)
    return recovered + jobs.recover_stalled(
        Transfer, "transfer", _requeue, retry_fields={"started_at": None, "queued_at": now, **_NO_PROGRESS},
        give_up_fields=_NO_PROGRESS, after=_after_abandoned, exclude=[transfer.pk for transfer in overdue])


def _requeue(transfer):
    enqueue_transfer(transfer.pk, transfer.queue)


def _after_abandoned(transfer, retried):
    _delete_files_it_no_longer_has(transfer)


def _delete_files_it_no_longer_has(transfer):
    """Once the transaction commits, delete the files the row no longer points to (read again then)."""
    transaction.on_commit(lambda: delete_unreferenced_files(Transfer.objects.get(pk=transfer.pk)))
