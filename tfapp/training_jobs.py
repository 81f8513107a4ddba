"""Training a style network as a slow-queue job, started from the admin.

A training run is a job like a transfer (:mod:`tfapp.jobs`): a worker claims the
:class:`~tfapp.models.TrainingRun`, a side thread stamps its heartbeat, and every
later write is conditional on this attempt still owning it. Cancelling takes that
ownership away: the next step sees it, writes a checkpoint and stops. A worker
that dies is noticed by its silent heartbeat; the run is queued again and goes on
from its last checkpoint.
"""
import logging
import time

from django.core.files.base import ContentFile

from . import jobs
from .exceptions import StyleTransferError
from .imaging import open_image
from .models import TrainingRun
from .processing import UNEXPECTED_ERROR
from .training_runs import RunFolder, TrainingSettings

logger = logging.getLogger(__name__)

#: Least seconds between two writes of the step and losses.
PROGRESS_INTERVAL = 1.0


def run_training(run_id):
    """Claim a queued training run, train (or go on training) and publish it; record the outcome on it."""
    run = jobs.claim(TrainingRun, run_id)
    if run is None:
        logger.info("Training run %s is no longer queued; skipping it.", run_id)
        return
    with jobs.Heartbeat(run, f"training run {run.name}") as heartbeat:
        try:
            _train(run, heartbeat.lost)
        except StyleTransferError as error:
            logger.warning("Training run %s failed: %s", run.name, error)
            jobs.finish(run, TrainingRun.Status.FAILED, error_message=str(error))
        except Exception:
            logger.exception("Training run %s failed unexpectedly.", run.name)
            jobs.finish(run, TrainingRun.Status.FAILED, error_message=UNEXPECTED_ERROR)


def _train(run, lost):
    # TensorFlow loads in the worker that takes the job, not in the web process that queues it.
    from .engines.trained import publish_checkpoint
    from .engines.training import Trainer
    folder = RunFolder(run.name)
    if not folder.exists():
        with run.preset.image.open("rb") as stored:
            painting = open_image(stored)
        settings = TrainingSettings(run.photos, steps=run.steps, size=run.size, batch=run.batch).check()
        scale = settings.style_size / max(painting.size)
        folder.create(settings, painting.resize((round(painting.width * scale), round(painting.height * scale))),
                      source=f"preset {run.preset.name}")
    hooks = JobHooks(run, lost)
    if Trainer(folder).train(hooks) == "stopped":
        return
    publish_checkpoint(folder)
    jobs.finish(run, TrainingRun.Status.DONE, step=hooks.step, losses=hooks.losses)


class JobHooks:
    """Writes the step, losses and validation image on the run; stops training once the run is cancelled."""

    def __init__(self, run, lost):
        self._run = run
        self._lost = lost
        self._written_at = 0.0
        self.step, self.losses = run.step, run.losses

    def should_stop(self):
        return self._lost.is_set()

    def on_step(self, step, losses):
        self.step, self.losses = step, losses
        if time.monotonic() - self._written_at >= PROGRESS_INTERVAL:
            self._write(step=step, losses=losses)

    def on_checkpoint(self, step, losses, validation_image):
        field = self._run.validation_image
        field.save(f"validation-{step:07d}.png", ContentFile(validation_image.read_bytes()), save=False)
        old = TrainingRun.objects.filter(pk=self._run.pk).values_list("validation_image", flat=True).first()
        if not self._write(step=step, losses=losses, validation_image=field.name):
            field.storage.delete(field.name)
        elif old:
            field.storage.delete(old)

    def _write(self, **fields):
        self._written_at = time.monotonic()
        if jobs.owned(self._run).update(**fields):
            return True
        self._lost.set()
        return False


def cancel(run):
    """Cancel a queued or running training run; returns whether it was still pending.

    A running one stops at its next step, with a checkpoint written.
    """
    return jobs.cancel(run)


def recover_stalled_training(enqueue):
    """Queue again (``enqueue(run_id)``) the runs of dead workers, or fail them after ``NST_MAX_ATTEMPTS`` starts."""
    return jobs.recover_stalled(TrainingRun, "training run", lambda run: enqueue(run.pk))
