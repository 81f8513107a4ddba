"""A training run's folder: its settings, its checkpoints, its logs and validation images.

A run lives in ``training_run_dir()/NAME/`` until it is published::

    settings.json        what was asked for (the settings a resume keeps)
    style.png            the painting, as trained on
    style.json           where the painting came from
    checkpoint.npz       the latest checkpoint (weights, optimizer state, step, random state, losses)
    validation/          the held-aside photo stylized at each checkpoint
    events/              TensorBoard event files

Every file is written under a temporary name, flushed to disk and renamed over the
old one, so a crash or a kill mid-write leaves the previous version whole.
"""
import io
import json
import os
import re
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import conf
from .exceptions import TrainingError

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")


def check_name(name):
    """A trained style's name: lower-case letters, digits, ``-`` and ``_``, at most 40 (it names folders)."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise TrainingError(f"{name!r} cannot name a trained style: use 1-40 lower-case letters, digits, - or _, "
                            "starting with a letter or digit.")
    return name


@dataclass
class TrainingSettings:
    """What a run is asked to do; stored with the run, so a resume trains exactly the same way."""

    photos: str
    steps: int = 20000
    size: int = 256
    batch: int = 4
    style_size: int = 256
    style_weight: float = 1.0
    content_weight: float = 1.0
    tv_weight: float = 1.0
    learning_rate: float = 1e-3
    checkpoint_every: int = 500
    seed: int = 0

    def check(self):
        for field in ("steps", "size", "batch", "style_size", "checkpoint_every"):
            if getattr(self, field) < 1:
                raise TrainingError(f"--{field.replace('_', '-')} must be at least 1.")
        if self.size < 32:
            raise TrainingError("--size must be at least 32 pixels.")
        for field in ("style_weight", "content_weight", "tv_weight"):
            if getattr(self, field) < 0:
                raise TrainingError(f"--{field.replace('_', '-')} cannot be negative.")
        if not self.learning_rate > 0:
            raise TrainingError("--learning-rate must be positive.")
        return self


class RunFolder:
    """The folder of the run called ``name``."""

    def __init__(self, name):
        self.name = check_name(name)
        self.path = conf.training_run_dir() / name

    settings_file = property(lambda self: self.path / "settings.json")
    style_file = property(lambda self: self.path / "style.png")
    source_file = property(lambda self: self.path / "style.json")
    checkpoint_file = property(lambda self: self.path / "checkpoint.npz")
    validation_dir = property(lambda self: self.path / "validation")
    events_dir = property(lambda self: self.path / "events")

    def exists(self):
        return self.settings_file.is_file()

    def create(self, settings, style_image, source="", force=False):
        """Start a new run: its folder, settings and painting (``source`` says where it came from).

        Refuses to replace a run of the same name unless ``force``.
        """
        if self.exists() and not force:
            raise TrainingError(f"A training run called {self.name!r} exists already in {self.path}; "
                                "continue it with --resume, or start it again with --force.")
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir(parents=True)
        buffer = io.BytesIO()
        style_image.save(buffer, format="PNG")
        write_atomically(self.style_file, buffer.getvalue())
        write_atomically(self.source_file, json.dumps({"source": source}).encode())
        self.save_settings(settings)

    def save_settings(self, settings):
        write_atomically(self.settings_file, json.dumps(asdict(settings), indent=2).encode())

    def settings(self):
        try:
            return TrainingSettings(**json.loads(self.settings_file.read_text()))
        except FileNotFoundError:
            raise TrainingError(f"There is no training run called {self.name!r} to resume or export.") from None
        except (OSError, ValueError, TypeError) as error:
            raise TrainingError(f"The settings of the run {self.name!r} could not be read: {error}") from error

    def save_checkpoint(self, arrays, state):
        """Store ``arrays`` (name -> NumPy array) and ``state`` (JSON-able) as the run's latest checkpoint."""
        buffer = io.BytesIO()
        np.savez(buffer, **arrays, state=np.frombuffer(json.dumps(state).encode(), np.uint8))
        write_atomically(self.checkpoint_file, buffer.getvalue())

    def load_checkpoint(self):
        """``(arrays, state)`` of the latest checkpoint, or ``None`` before the first."""
        if not self.checkpoint_file.is_file():
            return None
        try:
            with np.load(self.checkpoint_file) as stored:
                arrays = {key: stored[key] for key in stored.files if key != "state"}
                state = json.loads(stored["state"].tobytes())
        except (OSError, ValueError, KeyError) as error:
            raise TrainingError(f"The checkpoint {self.checkpoint_file} could not be read: {error}") from error
        return arrays, state

    def validation_image(self, step):
        return self.validation_dir / f"step-{step:07d}.png"

    def latest_validation_image(self):
        images = sorted(self.validation_dir.glob("step-*.png"))
        return images[-1] if images else None


def write_atomically(path, data):
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one, never a part."""
    path = Path(path)
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
