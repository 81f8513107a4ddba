"""``manage.py worker``: run transfers from the queue, with the model loaded once."""
import logging
import os
import threading
import time
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, OperationalError, close_old_connections, connection, connections
from django_tasks import task_backends
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

from tfapp import conf, engines
from tfapp.changes import TASK_TABLE, Bell, DatabaseChanges
from tfapp.exceptions import ModelUnavailable
from tfapp.jobs import pipelined, worker_name
from tfapp.tasks import enqueue_training, recover_stalled_transfers
from tfapp.training_jobs import recover_stalled_training

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = ("Run a background worker: loads the style-transfer model once, then runs queued transfers "
            "from the configured backend (the database queue, or Redis with RQ) until stopped.")

    def add_arguments(self, parser):
        parser.add_argument("--max-tasks", type=int, help="Exit after this many transfers (for tests).")
        parser.add_argument("--queues", default=",".join(conf.QUEUES),
                            help=f"Comma-separated queues to take jobs from (default: all, {','.join(conf.QUEUES)}).")
        parser.add_argument("--nice", type=int, default=0,
                            help="Lower this worker's CPU priority by this much (a slow-queue worker yields to "
                                 "fast ones on the same machine).")

    def handle(self, *args, max_tasks, queues, nice, **options):
        queue_names = [queue for queue in queues.split(",") if queue]
        unknown = set(queue_names) - set(conf.QUEUES)
        if unknown or not queue_names:
            raise CommandError(f"Unknown queues {', '.join(sorted(unknown)) or '(none given)'}; "
                               f"choose from: {', '.join(conf.QUEUES)}.")
        if nice:
            os.nice(nice)
        engines.warm_up(methods_of(queue_names))
        logger.info("Worker %s ready (pid %d, queues %s).", worker_name(), os.getpid(), ",".join(queue_names))
        recover_stalled_transfers()
        recover_stalled_training(enqueue_training)
        reaper = Reaper()
        reaper.start()
        try:
            # While a transfer's model runs, the next one is read and the last one stored (tfapp.jobs.Pipeline);
            # only on the fast queue: a slow queue's job runs for minutes, and one claimed behind it would
            # wait that long counted as running (its time limit, its page's estimate), kept from other workers.
            with pipelined(conf.worker_overlap() and set(queue_names) <= {"default"}):
                backend = task_backends["default"]
                if isinstance(backend, DatabaseBackend):
                    run_database_worker(queue_names, max_tasks)
                else:
                    run_rq_worker(queue_names, max_tasks)
        finally:
            reaper.stop()


def methods_of(queue_names):
    """The methods whose transfers run in these queues (loaded before the first job)."""
    names = []
    for name in engines.names():
        try:
            if engines.method_class(name).queue in queue_names:
                names.append(name)
        except ModelUnavailable as error:
            logger.warning("Method %s unavailable: %s", name, error)
    return names


def run_database_worker(queue_names, max_tasks):
    worker = QueueWorker(queue_names=queue_names, interval=conf.worker_poll_interval(), batch=False,
                         backend_name="default", startup_delay=False, max_tasks=max_tasks,
                         worker_id=worker_name(), excluded_queue_names=[])
    worker.configure_signals()
    worker.run()


class QueueWorker(Worker):
    """django-tasks-db's worker, idling cheaply.

    The library's loop reconnects and takes the database's write lock to look for a task
    every ``interval`` seconds; on SQLite that costs an idle worker a fifth of a core,
    taken from the model running beside it. This loop checks whether another connection
    committed when the :class:`~tfapp.changes.Bell` rings for the task table (a task was
    queued or taken) or every ``interval`` at the latest, and looks for a task only then
    (and at least every ``LOOK_AT_LEAST_EVERY`` seconds, for tasks scheduled to run later).
    """

    LOOK_AT_LEAST_EVERY = 1.0

    def run(self):
        changes, bell = DatabaseChanges(), Bell()
        try:
            self._run(changes, bell)
        finally:
            bell.close()

    def _run(self, changes, bell):
        looked_at = -self.LOOK_AT_LEAST_EVERY
        rung = frozenset()
        while self.running and (self.max_tasks is None or self._run_tasks < self.max_tasks):
            try:
                # Woken only by writes that queue nothing (a transfer's progress or result), the
                # worker goes back to sleep without a query. The change check and the look use
                # the same connection, so a commit between them is seen by the look, and one
                # after it by the next check.
                queued_nothing = rung and TASK_TABLE not in rung
                if ((not queued_nothing and changes.happened())
                        or time.monotonic() - looked_at >= self.LOOK_AT_LEAST_EVERY):
                    looked_at = time.monotonic()
                    task_result = self._claim_next()
                    if task_result is LOCKED:
                        # Another process is writing (a web request saving its session just after
                        # queueing, say). SQLite's own busy wait sleeps 1, 2, 5, 10… ms between
                        # tries; trying again every millisecond claims the task as soon as it can.
                        time.sleep(0.001)
                        looked_at = -self.LOOK_AT_LEAST_EVERY
                        continue
                    if task_result is not None:
                        self.run_task(task_result)
                        close_old_connections()
                        # More may be queued: look again at once. This connection's own commits
                        # do not count as changes, and nobody else need have committed since.
                        looked_at = -self.LOOK_AT_LEAST_EVERY
                        continue
            except DatabaseError:
                # A database that went away (restarted, say) must not end the worker: the
                # connection is opened again for the next look.
                logger.warning("Could not look at the queue; trying again.", exc_info=True)
                connection.close()
                time.sleep(self.LOOK_AT_LEAST_EVERY)
                continue
            rung = bell.wait(self.interval)

    def _claim_next(self):
        """The next ready task, claimed for this worker; None when there is none; LOCKED while another writes."""
        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name, queue_name__in=self.queue_names)
        try:
            with _without_busy_wait(tasks.db), exclusive_transaction(tasks.db):
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
        except OperationalError as error:
            if is_locked_database_exception(error):
                return LOCKED
            raise
        return task_result


#: What :meth:`QueueWorker._claim_next` returns while another connection holds the write lock.
LOCKED = object()


@contextmanager
def _without_busy_wait(alias):
    """On SQLite, fail at once instead of waiting when the database is locked (the caller tries again)."""
    database = connections[alias]
    if database.vendor != "sqlite":
        yield
        return
    with database.cursor() as cursor:
        cursor.execute("PRAGMA busy_timeout = 0")
    try:
        yield
    finally:
        with database.cursor() as cursor:
            # The configured wait (Django's ``timeout`` option, in seconds; Python's default is 5).
            cursor.execute(f"PRAGMA busy_timeout = {int(database.settings_dict['OPTIONS'].get('timeout', 5) * 1000)}")


def run_rq_worker(queue_names, max_tasks):
    import django_rq
    from rq import SimpleWorker

    # SimpleWorker runs each job in this process: RQ's default worker forks a child
    # per job, which is unsafe once TensorFlow has started its thread pools and
    # would throw away the loaded model after every job.
    worker = django_rq.get_worker(*queue_names, job_class="django_tasks_rq.backend.Job", worker_class=SimpleWorker,
                                  name=worker_name())
    worker.work(max_jobs=max_tasks, with_scheduler=False)


class Reaper(threading.Thread):
    """Every few seconds, recover transfers and training runs whose worker died (see recover_stalled_transfers)."""

    def __init__(self):
        super().__init__(name="reaper", daemon=True)
        self._stopped = threading.Event()

    def run(self):
        try:
            while not self._stopped.wait(max(conf.stale_after() / 2, 0.5)):
                try:
                    recover_stalled_transfers()
                    recover_stalled_training(enqueue_training)
                except DatabaseError:
                    logger.exception("Could not recover stalled transfers; will try again.")
        finally:
            connection.close()

    def stop(self):
        self._stopped.set()
        self.join()
