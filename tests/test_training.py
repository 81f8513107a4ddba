"""Training a style network with `manage.py train_style`: it learns, resumes, survives signals and publishes."""
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.management import call_command

from PIL import Image

from tfapp.training_runs import RunFolder, TrainingSettings

from .conftest import CONTENT_DIR, ROOT, STYLE_DIR

pytestmark = pytest.mark.model

PAINTING = str(STYLE_DIR / "starry_night.jpg")
# Tiny runs: 64 px crops, two photos a step, a painting seen at 128 px.
TINY = ["--size", "64", "--batch", "2", "--style-size", "128", "--learning-rate", "0.005"]


@pytest.fixture
def photos(tmp_path):
    """The three shared photos, one in a subfolder (found recursively) beside a file that is not an image."""
    folder = tmp_path / "photos"
    (folder / "more").mkdir(parents=True)
    shutil.copy(CONTENT_DIR / "astronaut.png", folder)
    shutil.copy(CONTENT_DIR / "chelsea.png", folder)
    shutil.copy(CONTENT_DIR / "coffee.png", folder / "more")
    (folder / "notes.txt").write_text("not a photo")
    return folder


def train(photos, name, *extra):
    call_command("train_style", PAINTING, "--photos", str(photos), "--name", name, *TINY, *extra)


def checkpoint(name):
    return RunFolder(name).load_checkpoint()


def network_weights(name):
    arrays, _ = checkpoint(name)
    return {key: value for key, value in arrays.items() if key.startswith("network/")}


def test_a_tiny_run_lowers_the_loss(photos):
    """30 steps bring the mean total loss of the last 5 steps below 0.7 x that of the first 5."""
    from tfapp.engines.training import Hooks, Trainer

    class Recorder(Hooks):
        totals = []

        def on_step(self, step, losses):
            self.totals.append(losses["total"])

    run = RunFolder("tiny")
    run.create(TrainingSettings(str(photos), steps=30, size=64, batch=2, style_size=128, learning_rate=0.005,
                                checkpoint_every=30), Image.open(PAINTING))
    Trainer(run).train(Recorder())
    first, last = np.mean(Recorder.totals[:5]), np.mean(Recorder.totals[-5:])
    assert len(Recorder.totals) == 30
    assert last < 0.7 * first, Recorder.totals


def test_resuming_gives_the_weights_of_an_uninterrupted_run(photos):
    """6 steps in one go and 3 + 3 with --resume between end within 1e-5 of each other (fixed seed)."""
    train(photos, "whole", "--steps", "6", "--checkpoint-every", "3")
    train(photos, "halves", "--steps", "3", "--checkpoint-every", "3")
    assert checkpoint("halves")[1]["step"] == 3
    call_command("train_style", "--name", "halves", "--resume", "--steps", "6")
    whole, halves = network_weights("whole"), network_weights("halves")
    assert checkpoint("halves")[1]["step"] == 6
    assert max(np.abs(whole[key] - halves[key]).max() for key in whole) < 1e-5


def start_training(*arguments):
    """`manage.py train_style ARGUMENTS` in its own process, as a user starts it."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="nst_site.settings.development", PYTHONUNBUFFERED="1",
               NST_MODEL_DIR=str(django_settings.NST_MODEL_DIR),
               NST_TRAINED_MODEL_DIR=str(django_settings.NST_TRAINED_MODEL_DIR),
               NST_VGG_WEIGHTS=str(django_settings.NST_VGG_WEIGHTS))
    command = [sys.executable, "manage.py", "train_style", *arguments]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_until(condition, process, timeout=120):
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_sigterm_writes_a_checkpoint_and_exits_cleanly(photos):
    """SIGTERM mid-run stops after the step under way, with its checkpoint written and exit status 0."""
    process = start_training(PAINTING, "--photos", str(photos), "--name", "stopped", *TINY, "--steps", "1000",
                             "--checkpoint-every", "1000")
    while not process.stdout.readline().startswith("Step 0 of 1000"):
        assert process.poll() is None, process.communicate()
    time.sleep(3)  # into the first steps
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    step = checkpoint("stopped")[1]["step"]
    assert 1 <= step < 1000
    assert f"Stopped at step {step}; the checkpoint is saved." in out
    assert RunFolder("stopped").validation_image(step).is_file()


def test_sigkill_mid_checkpoint_leaves_the_previous_one_resumable(photos):
    """A kill while a checkpoint is being written leaves the one before it whole, and --resume goes on from it."""
    run = RunFolder("killed")
    process = start_training(PAINTING, "--photos", str(photos), "--name", "killed", *TINY, "--steps", "200",
                             "--checkpoint-every", "1")
    for attempt in range(5):
        wait_until(run.checkpoint_file.is_file, process)  # one whole checkpoint to fall back on
        wait_until(lambda: any(run.path.glob(".checkpoint.npz.*.partial")), process)
        process.kill()
        process.wait()
        if any(run.path.glob(".checkpoint.npz.*.partial")):
            break  # killed mid-write, as wanted; otherwise the write had just finished: try again
        process = start_training("--name", "killed", "--resume")
    else:
        pytest.fail("never caught a checkpoint being written")
    step = checkpoint("killed")[1]["step"]
    call_command("train_style", "--name", "killed", "--resume", "--steps", str(step + 1))
    assert checkpoint("killed")[1]["step"] == step + 1
    assert "killed" in os.listdir(django_settings.NST_TRAINED_MODEL_DIR)
