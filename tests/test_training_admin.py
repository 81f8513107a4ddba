"""Training a network for a preset from the admin: the form, the slow-queue job, its progress and cancel."""
import shutil

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from PIL import Image

from tfapp import engines
from tfapp.models import TrainingRun
from tfapp.training_jobs import cancel

from .conftest import CONTENT_DIR, STYLE_DIR, wait_for
from .factories import make_preset

pytestmark = [pytest.mark.model, pytest.mark.django_db]


@pytest.fixture
def preset():
    return make_preset("Starry Night", Image.open(STYLE_DIR / "starry_night.jpg"))


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("astronaut.png", "chelsea.png", "coffee.png"):
        shutil.copy(CONTENT_DIR / name, folder)
    return folder


def train_action(admin_client, preset, **fields):
    data = {"action": "train_network", ACTION_CHECKBOX_NAME: [preset.pk], **fields}
    return admin_client.post(reverse("admin:tfapp_stylepreset_changelist"), data)


def test_the_action_asks_for_the_training_settings(admin_client, preset):
    """Choosing "Train a dedicated network…" on a preset shows a form with a name made from the preset's."""
    page = train_action(admin_client, preset)
    assert page.status_code == 200
    assert page.context["form"]["name"].value() == "starry-night"
    assert 'name="photos"' in page.content.decode()


def test_a_bad_photos_folder_is_a_form_error_and_queues_nothing(admin_client, preset, tmp_path):
    """A folder that does not exist is refused with its sentence; no training run is created."""
    page = train_action(admin_client, preset, apply="1", name="starry", photos=str(tmp_path / "nowhere"),
                        steps=3, size=32, batch=2)
    assert page.status_code == 200
    assert "does not exist or is not a folder" in page.content.decode()
    assert not TrainingRun.objects.exists()


def test_training_runs_in_the_slow_queue_and_publishes_the_style(admin_client, preset, photos, settings,
                                                                 fresh_engine, django_capture_on_commit_callbacks):
    """Applying the form queues a job in the slow queue; it trains, records its progress and publishes the style."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
                                  "QUEUES": ["default", "slow"]}}
    with django_capture_on_commit_callbacks(execute=True):
        response = train_action(admin_client, preset, apply="1", name="starry", photos=str(photos), steps=3,
                                size=32, batch=2)
    assert response.status_code == 302
    run = TrainingRun.objects.get()
    assert (run.status, run.step, run.attempts) == (TrainingRun.Status.DONE, 3, 1)
    assert set(run.losses) == {"total", "style", "content", "tv"} and run.validation_image
    assert "trained:starry" in engines.names()
    listing = admin_client.get(reverse("admin:tfapp_trainingrun_changelist")).content.decode()
    assert "3 / 3" in listing and run.validation_image.url in listing
    # As a thumbnail, whose size the admin stylesheet sets, so the other columns stay in view.
    assert 'class="admin-thumb"' in listing and "tfapp/css/admin.css" in listing


def test_a_failed_job_shows_its_reason(admin_client, preset, photos, settings, django_capture_on_commit_callbacks):
    """A job whose photos vanished before it ran fails with a sentence that the admin shows."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend",
                                  "QUEUES": ["default", "slow"]}}
    run = TrainingRun.objects.create(name="gone", preset=preset, photos=str(photos / "gone"), steps=3, size=32,
                                     batch=2)
    from tfapp.tasks import enqueue_training
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_training(run.pk)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.FAILED and "does not exist" in run.error_message
    listing = admin_client.get(reverse("admin:tfapp_trainingrun_changelist")).content.decode()
    assert "does not exist or is not a folder" in listing


def test_cancel_stops_a_queued_run(admin_client, preset, photos):
    """The admin's cancel action marks a queued run cancelled, so no worker starts it."""
    run = TrainingRun.objects.create(name="later", preset=preset, photos=str(photos), steps=3, size=32, batch=2)
    admin_client.post(reverse("admin:tfapp_trainingrun_changelist"),
                      {"action": "cancel_selected", ACTION_CHECKBOX_NAME: [run.pk]})
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED
    assert not cancel(run)


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_cancelling_a_running_job_stops_its_worker_at_a_checkpoint(preset, photos, workers, settings):
    """A slow-queue worker training a run stops soon after it is cancelled, with a checkpoint, publishing nothing."""
    from tfapp.tasks import enqueue_training
    from tfapp.training_runs import RunFolder

    workers(NST_MODEL_DIR=settings.NST_MODEL_DIR, NST_TRAINED_MODEL_DIR=settings.NST_TRAINED_MODEL_DIR)
    run = TrainingRun.objects.create(name="long", preset=preset, photos=str(photos), steps=100000, size=32, batch=2)
    enqueue_training(run.pk)
    wait_for(lambda: TrainingRun.objects.get(pk=run.pk).step >= 1, timeout=180)
    assert cancel(run)
    wait_for(lambda: RunFolder("long").checkpoint_file.is_file(), timeout=60)
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED
    assert 1 <= RunFolder("long").load_checkpoint()[1]["step"] < 100000
    assert "trained:long" not in engines.names()
