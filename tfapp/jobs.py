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

A worker may hand the end of a job (storing its result, its previews) to a side
thread with :func:`finish_later`, and take the next job meanwhile: see
:class:`Finisher`. The job stays claimed, and its heartbeat beats, until that end is done.
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


class Finisher:
    """The end of one job at a time, run on a side thread while the worker's loop takes and runs the next job.

    A fast job's model call is a few hundredths of a second; encoding and storing its
    result, its previews and its database writes take about as long again. Run here,
    they overlap the next job's model call (which releases the interpreter lock), so
    the model waits less. One job at most is being finished: handing over another
    first waits for it, so a slow disk slows the worker down rather than piling up
    claimed work. A job being finished is still running and still owned: its
    heartbeat beats until its end is done, and if the worker dies meanwhile the
    reaper hands it to another attempt, as for a job killed in its model call.
    """

    def __init__(self):
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="finishing")
        self._pending = None

    def submit(self, end):
        """Run ``end()`` on the side thread, once the job handed over before has been finished."""
        self.wait()
        self._pending = self._thread.submit(self._run, end)

    def wait(self):
        """Until the job handed over last has been finished."""
        if self._pending is not None:
            self._pending.result()
            self._pending = None

    def close(self):
        self.wait()
        self._thread.submit(lambda: connection.close()).result()  # the side thread's own connection
        self._thread.shutdown()

    @staticmethod
    def _run(end):
        try:
            end()
        except Exception:
            # The end of a job records its own failures; anything else leaves the job running
            # with its heartbeat stopped, and the reaper hands it to another attempt.
            logger.exception("Could not finish a job.")


#: The worker's :class:`Finisher` while :func:`finishing_in_background` is in effect; None: finish at once.
_finisher = None


def finish_later(end):
    """Run ``end()``, the end of a job: on the worker's side thread when it has one, else now."""
    if _finisher is None:
        end()
    else:
        _finisher.submit(end)


@contextmanager
def finishing_in_background(enabled=True):
    """While in effect (and ``enabled``), :func:`finish_later` hands job ends to a side thread; waits for the last one."""
    global _finisher
    if not enabled:
        yield
        return
    _finisher = Finisher()
    try:
        yield
    finally:
        finisher, _finisher = _finisher, None
        finisher.close()
