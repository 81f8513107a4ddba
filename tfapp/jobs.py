"""One lifecycle for every long piece of work (transfers, training runs): claim, heartbeat, outcome, cancel, recovery.

A job is a row of a :class:`~tfapp.models.Job` model. A worker owns it from the
moment it moves it from queued to running (:func:`claim`, ``attempts`` + 1) until
it records the outcome (:func:`finish`). Every write in between goes through
:func:`owned`, so a worker presumed dead (its job handed to another attempt, or
cancelled) can never overwrite the newer state: its update matches no row, and it
stops and deletes what it wrote. A side thread stamps the heartbeat
(:class:`Heartbeat`); the workers' reaper queues a job whose heartbeat went silent
again, or fails it after ``NST_MAX_ATTEMPTS`` starts (:func:`recover_stalled`).
What is specific to a kind of job (a transfer's previews, a training run's
checkpoints) stays with it.

A worker may run a job's model call and its end (storing its result, its previews)
on side threads with :func:`run_in_stages`, and prepare the next job meanwhile: see
:class:`Pipeline`. The job stays claimed, and its heartbeat beats, until its end is done.
"""
import logging
import os
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta

from django.db import DatabaseError, connection, transaction
from django.db.models import F
from django.utils import timezone

from . import conf

logger = logging.getLogger(__name__)

QUEUE_UNREACHABLE = "The job queue could not be reached, so this {what} was not started. Please try again."
WORKER_LOST = "The worker running this {what} stopped unexpectedly {attempts} times, so it was given up."


def worker_name():
    """This process as a worker: host name and process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


def claim(model, job_id):
    """The queued job ``job_id`` of ``model``, now running in this worker; None when it is no longer queued."""
    now = timezone.now()
    claimed = model.objects.filter(pk=job_id, status=model.Status.QUEUED).update(
        status=model.Status.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
        worker=worker_name())
    return model.objects.get(pk=job_id) if claimed else None


def owned(job):
    """The job's row, as long as this attempt still owns it."""
    return type(job).objects.filter(pk=job.pk, status=job.Status.RUNNING, attempts=job.attempts)


def finish(job, status, **fields):
    """Record the outcome if this attempt still owns the job; says whether it did."""
    return bool(owned(job).update(status=status, finished_at=timezone.now(), **fields))


def cancel(job, **fields):
    """Cancel a queued or running job (and set ``fields``); returns whether it was still pending.

    A queued job is skipped when a worker reaches it; a running one loses its claim,
    which its worker notices at the next heartbeat or progress report.
    """
    model = type(job)
    return bool(model.objects.filter(pk=job.pk).pending().update(status=model.Status.CANCELLED,
                                                                  finished_at=timezone.now(), **fields))


def enqueue_or_fail(enqueue, model, job_id, what):
    """Once the current transaction commits, ``enqueue()`` the job; if the queue refuses, fail it with a reason.

    ``what`` names the kind of job for people ("transfer").
    """
    def now():
        try:
            enqueue()
        except Exception:
            # Any backend failure (Redis down, database locked) must leave a readable
            # outcome rather than a job that stays queued forever.
            logger.exception("Could not enqueue %s %s.", what, job_id)
            model.objects.filter(pk=job_id, status=model.Status.QUEUED).update(
                status=model.Status.FAILED, error_message=QUEUE_UNREACHABLE.format(what=what),
                finished_at=timezone.now())
    transaction.on_commit(now)


def recover_stalled(model, what, requeue, retry_fields=None, give_up_fields=None, after=None, exclude=()):
    """Queue again the running jobs of ``model`` whose heartbeat is silent, or fail them after their last attempt.

    A job with no heartbeat for ``NST_STALE_AFTER`` seconds lost its worker; jobs
    whose ids are in ``exclude`` are left alone. See :func:`abandon` for the rest.
    Safe to call from every worker at once. Returns how many it recovered.
    """
    stalled = model.objects.stalled(timezone.now() - timedelta(seconds=conf.stale_after())).exclude(pk__in=exclude)
    return sum(abandon(job, job.attempts < conf.max_attempts(),
                       WORKER_LOST.format(what=what, attempts=job.attempts), requeue,
                       retry_fields, give_up_fields, after) for job in stalled)


def abandon(job, retry, message, requeue, retry_fields=None, give_up_fields=None, after=None):
    """Take a running job from its (presumed dead) attempt: queue it again or fail it with ``message``; 1 if taken.

    Queued again, it gets ``retry_fields`` and ``requeue(job)`` is called, which must
    enqueue it only once the transaction commits (as :func:`enqueue_or_fail` does);
    failed, it gets ``give_up_fields``. ``after(job, retried)`` runs inside the same
    transaction, once the job is taken.
    """
    model = type(job)
    fields = ({"status": model.Status.QUEUED, "heartbeat_at": None, **(retry_fields or {})} if retry else
              {"status": model.Status.FAILED, "error_message": message, "finished_at": timezone.now(),
               **(give_up_fields or {})})
    with transaction.atomic():
        if not owned(job).update(**fields):
            return 0
        logger.warning("%s %s lost its worker on attempt %d; %s.", model.__name__, job.pk, job.attempts,
                       "queued again" if retry else "failed")
        if after is not None:
            after(job, retry)
        if retry:
            requeue(job)
    return 1


class Heartbeat:
    """While a job runs, stamp ``heartbeat_at`` on its row every few seconds from a side thread.

    ``job`` is the claimed row; ``what`` names it in logs. ``lost`` is set once a beat
    finds that this attempt no longer owns the job (cancelled, or taken over); a job
    whose heartbeat stops (its worker was killed) is recovered by :func:`recover_stalled`.
    """

    def __init__(self, job, what):
        self._owned = owned(job)
        self._what = what
        self._stopped = threading.Event()
        #: Set once a beat finds that this attempt no longer owns the job (cancelled, or taken over).
        self.lost = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat {what}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stopped.set()
        self._thread.join()

    def _beat(self):
        try:
            while not self._stopped.wait(conf.heartbeat_seconds()):
                try:
                    if not self._owned.update(heartbeat_at=timezone.now()):
                        self.lost.set()
                except DatabaseError:
                    # A busy database must not end the heartbeat: the next beat tries again.
                    logger.warning("Heartbeat of %s could not be written.", self._what)
        finally:
            connection.close()


class Pipeline:
    """A worker's jobs in three stages on three threads: while one's model runs, the next is read and the last stored.

    A fast job's model call is a few hundredths of a second; claiming and reading the
    next job, and encoding and storing the last one's result, its previews and its
    database writes, take about as long again. The worker's loop claims and prepares a
    job, then hands its model call to the model stage and its end to the end stage
    (:func:`run_in_stages`); the model call releases the interpreter lock, so the
    other two stages run meanwhile. Each stage holds one job at most, and handing a
    job to a busy stage waits for it: the loop claims the next job only once this one
    reached the model, so a worker holds at most one claimed job that is not running
    yet, and a slow disk slows the worker rather than piling up claimed work. A job in
    any stage is running and owned: its heartbeat beats until its end is done, and if
    the worker dies the reaper hands it to another attempt, as for any killed job.
    """

    STAGES = ("model", "end")

    def __init__(self):
        self._threads = [ThreadPoolExecutor(1, thread_name_prefix=f"{stage} stage") for stage in self.STAGES]
        # The job each stage runs; the future of stage n is replaced only by the thread that hands it work.
        self._running = [None for _ in self.STAGES]

    def submit(self, run, end, stopped):
        """Hand a job to the model stage: ``run()``, then ``end(its result)``; see :func:`run_in_stages`."""
        self._hand(0, (run, end), stopped, None)

    def _hand(self, stage, steps, stopped, value):
        if self._running[stage] is not None:
            self._running[stage].result()
        self._running[stage] = self._threads[stage].submit(self._stage, stage, steps, stopped, value)

    def _stage(self, stage, steps, stopped, value):
        try:
            value = steps[stage]() if stage == 0 else steps[stage](value)
        except Exception:
            # The steps record their own failures; anything else leaves the job running with
            # its heartbeat stopped, and the reaper hands it to another attempt.
            logger.exception("A job's %s stage failed.", self.STAGES[stage])
            value = None
        if value is None or stage + 1 == len(self.STAGES):
            stopped()
        else:
            self._hand(stage + 1, steps, stopped, value)

    def close(self):
        """Wait for the jobs in the stages, then end the stages' threads (and their database connections)."""
        for stage, thread in enumerate(self._threads):
            if self._running[stage] is not None:
                self._running[stage].result()
            thread.submit(lambda: connection.close()).result()
            thread.shutdown()


#: The worker's :class:`Pipeline` while :func:`pipelined` is in effect; None: jobs run in one go.
_pipeline = None


def run_in_stages(run, end, stopped):
    """Run ``run()``, then, unless it returned None, ``end(what it returned)``; then ``stopped()`` in any case.

    In a worker with a :class:`Pipeline` the calls run on its stages' threads and this
    returns at once; elsewhere (the command line, tests) they run now.
    """
    if _pipeline is not None:
        _pipeline.submit(run, end, stopped)
        return
    try:
        value = run()
        if value is not None:
            end(value)
    finally:
        stopped()


@contextmanager
def pipelined(enabled=True):
    """While in effect (and ``enabled``), :func:`run_in_stages` hands jobs to a :class:`Pipeline`; then waits on them."""
    global _pipeline
    if not enabled:
        yield
        return
    _pipeline = Pipeline()
    try:
        yield
    finally:
        pipeline, _pipeline = _pipeline, None
        pipeline.close()
