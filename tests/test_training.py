"""Training a style network with `manage.py train_style`: it learns, resumes, survives signals and publishes."""
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.test import override_settings

from PIL import Image

from tfapp import engines
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


def publish_untrained(name, steps=0):
    """Publish a freshly initialised network as the trained style ``name`` (what publishing does not care about)."""
    from tfapp.engines.style_network import StyleNetwork
    from tfapp.engines.trained import publish
    painting = (STYLE_DIR / "the_scream.jpg").read_bytes()
    return publish(StyleNetwork(seed=steps), name, {"name": name, "steps": steps}, painting, force=True)


def test_the_published_network_runs_in_a_fresh_process_at_any_size():
    """A fresh process loads trained:NAME and returns 1x1, 333x517 and 1024x683 images at exactly their size."""
    publish_untrained("fresh")
    script = ("import django, numpy as np; django.setup()\n"
              "from tfapp import engines\n"
              "method = engines.get('trained:fresh')\n"
              "for h, w in ((1, 1), (333, 517), (683, 1024)):\n"
              "    out = method.stylize(np.random.default_rng(0).random((1, h, w, 3), np.float32))\n"
              "    print(method.name, out.shape, out.dtype, 0 <= out.min() <= out.max() <= 1)\n")
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="nst_site.settings.development",
               NST_TRAINED_MODEL_DIR=str(django_settings.NST_TRAINED_MODEL_DIR))
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [f"trained:fresh {shape} float32 True" for shape in
                                          ("(1, 1, 1, 3)", "(1, 333, 517, 3)", "(1, 683, 1024, 3)")]


def snapshot(folder):
    """Every file under ``folder`` (hidden ones too) with its bytes: to show a folder was left as it was."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A trained style called "taken", exported once for the module (exporting takes seconds)."""
    folder = tmp_path_factory.mktemp("exported")
    with override_settings(NST_TRAINED_MODEL_DIR=folder):
        publish_untrained("taken", steps=7)
    return folder / "taken"


@pytest.fixture
def published(exported):
    """The trained style "taken" already on the site; returns the trained-models folder."""
    shutil.copytree(exported, django_settings.NST_TRAINED_MODEL_DIR / "taken")
    return django_settings.NST_TRAINED_MODEL_DIR


@pytest.mark.parametrize("arguments, message", [
    (["--name", "x"], "Give the painting and --photos"),
    ([str(CONTENT_DIR / "nowhere.png"), "--photos", "PHOTOS", "--name", "x"], "is not an image that can be read"),
    ([str(ROOT / "README.md"), "--photos", "PHOTOS", "--name", "x"], "is not an image that can be read"),
    ([PAINTING, "--photos", "PHOTOS", "--name", "Bad Name!"], "cannot name a trained style"),
    ([PAINTING, "--photos", "PHOTOS", "--name", "taken"], "A trained style called 'taken' exists already"),
    ([PAINTING, "--photos", "PHOTOS", "--name", "x", "--steps", "0"], "--steps must be at least 1"),
    (["--name", "missing", "--resume"], "There is no training run called 'missing'"),
    ([PAINTING, "--name", "missing", "--resume"], "leave them out"),
    (["--name", "missing", "--export"], "There is no training run called 'missing'"),
])
def test_bad_arguments_are_refused_and_change_nothing(published, photos, arguments, message):
    """Each bad argument stops with its sentence; the published models are as they were and no run is started."""
    before = snapshot(published)
    with pytest.raises(CommandError, match=message):
        call_command("train_style", *[str(photos) if argument == "PHOTOS" else argument for argument in arguments])
    assert snapshot(published) == before
    assert not (django_settings.NST_MODEL_DIR / "training-runs").exists()


def make_folder(root, files):
    """A photos folder holding ``files``: name -> source photo path, or text for a file that is not an image."""
    root.mkdir()
    for name, source in files.items():
        if isinstance(source, str):
            (root / name).write_text(source)
        else:
            shutil.copy(source, root / name)
    return root


@pytest.mark.parametrize("files, message", [
    (None, "does not exist or is not a folder"),
    ({}, r"has 0 usable photo\(s\) \(0 other file\(s\) skipped\); training needs at least 3"),
    ({"a.jpg": "text named like a photo", "b.png": CONTENT_DIR / "chelsea.png", "c.txt": "notes",
      "d.png": CONTENT_DIR / "coffee.png"}, r"has 2 usable photo\(s\) \(2 other file\(s\) skipped\)"),
])
def test_too_few_photos_is_a_clear_error(published, tmp_path, files, message):
    """A missing folder, an empty one, or one with fewer usable photos than a batch plus one is refused."""
    folder = tmp_path / "photos" if files is None else make_folder(tmp_path / "photos", files)
    before = snapshot(published)
    with pytest.raises(CommandError, match=message):
        call_command("train_style", PAINTING, "--photos", str(folder), "--name", "x", "--batch", "2")
    assert snapshot(published) == before


def test_a_failed_save_leaves_the_earlier_model_whole(published):
    """A disk that fills up while publishing (file size limit) gives an error; the old model stays, nothing else."""
    from tfapp.exceptions import TrainingError
    before = snapshot(published)
    limits = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous_handler = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, limits[1]))
    try:
        with pytest.raises(TrainingError, match="Could not save the trained style 'taken'.*File too large"):
            publish_untrained("taken", steps=8)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limits)
        signal.signal(signal.SIGXFSZ, previous_handler)
    assert snapshot(published) == before
    assert engines.method_class("trained:taken").engine_class()().metadata["steps"] == 7


def test_force_replaces_a_published_style(published):
    """--force publishes over a style of the same name, and only the new one remains."""
    publish_untrained("taken", steps=9)
    assert engines.method_class("trained:taken").engine_class()().metadata["steps"] == 9
    assert sorted(os.listdir(published)) == ["taken"]


def test_the_mixed_precision_path_trains_with_a_loss_scale():
    """The GPU path (float16 network, float32 weights, scaled loss) runs here on the CPU and lowers a loss."""
    import tensorflow as tf

    from tfapp.engines.style_network import StyleNetwork
    from tfapp.engines.training import Adam, LossScale

    network = StyleNetwork(compute_dtype=tf.float16)
    optimizer, scale = Adam(network.weights, 1e-2), LossScale(enabled=True)
    photos = tf.constant(np.random.default_rng(0).random((2, 32, 32, 3), np.float32))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(network(photos) - 0.2))
            scaled = scale.scale(loss)
        scale.apply(tape.gradient(scaled, network.weights), optimizer)
        return loss

    losses = [float(step()) for _ in range(15)]
    assert losses[-1] < 0.5 * losses[0]
    assert network.weights[0].dtype == tf.float32 and scale.state() == {"value": 2.0 ** 15, "calm_steps": 15}
