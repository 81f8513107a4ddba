"""``manage.py worker``: run transfers from the queue, with the model loaded once."""
import logging
import os
import threading

from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection
from django_tasks import task_backends
from django_tasks_db.backend import DatabaseBackend

from tfapp import conf, engines
from tfapp.processing import worker_name
from tfapp.tasks import recover_stalled_transfers

logger = logging.getLogger(__name__)


class Command(BaseCommand):
    help = ("Run a background worker: loads the style-transfer model once, then runs queued transfers "
            "from the configured backend (the database queue, or Redis with RQ) until stopped.")

    def add_arguments(self, parser):
        parser.add_argument("--max-tasks", type=int, help="Exit after this many transfers (for tests).")

    def handle(self, *args, max_tasks, **options):
        engines.warm_up()
        logger.info("Worker %s ready (pid %d, engine %s).", worker_name(), os.getpid(), conf.engine_name())
        recover_stalled_transfers()
        reaper = Reaper()
        reaper.start()
        try:
            backend = task_backends["default"]
            if isinstance(backend, DatabaseBackend):
                run_database_worker(max_tasks)
            else:
                run_rq_worker(max_tasks)
        finally:
            reaper.stop()


def run_database_worker(max_tasks):
    from django_tasks_db.management.commands.db_worker import Worker

    worker = Worker(queue_names=["default"], interval=conf.worker_poll_interval(), batch=False,
                    backend_name="default", startup_delay=False, max_tasks=max_tasks, worker_id=worker_name(),
                    excluded_queue_names=[])
    worker.configure_signals()
    worker.run()


def run_rq_worker(max_tasks):
    import django_rq
    from rq import SimpleWorker

    # SimpleWorker runs each job in this process: RQ's default worker forks a child
    # per job, which is unsafe once TensorFlow has started its thread pools and
    # would throw away the loaded model after every job.
    worker = django_rq.get_worker("default", job_class="django_tasks_rq.backend.Job", worker_class=SimpleWorker,
                                  name=worker_name())
    worker.work(max_jobs=max_tasks, with_scheduler=False)


class Reaper(threading.Thread):
    """Every few seconds, recover transfers whose worker died (see recover_stalled_transfers)."""

    def __init__(self):
        super().__init__(name="reaper", daemon=True)
        self._stopped = threading.Event()

    def run(self):
        try:
            while not self._stopped.wait(max(conf.stale_after() / 2, 0.5)):
                try:
                    recover_stalled_transfers()
                except DatabaseError:
                    logger.exception("Could not recover stalled transfers; will try again.")
        finally:
            connection.close()

    def stop(self):
        self._stopped.set()
        self.join()
