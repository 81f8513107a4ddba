"""Published style networks: exporting a trained one, and running it as a method.

A published network is a folder ``trained_model_dir()/NAME/`` holding a
TensorFlow SavedModel (``saved_model/``, signature ``serving_default``: ``content``
float32 ``[1, H, W, 3]`` in [0, 1], H, W >= 16 -> ``stylized``, the same shape)
and ``metadata.json`` (the painting, steps, losses, date, settings). It runs with
TensorFlow alone, without this project's code.

Publishing writes the whole folder under a temporary name beside the target and
renames it into place, so a full disk or a permission error leaves no half-written
model, and a model it replaces (``force``) stays whole until the new one is complete.

Where the process's runtime is OpenVINO (``NST_RUNTIME``), a published network is
converted for it at load and runs there, about twice as fast as in TensorFlow, with
the same output to within 1e-4; see :mod:`tfapp.engines.converted`.
"""
import json
import shutil
import tempfile
import uuid
from pathlib import Path

import numpy as np
import tensorflow as tf
from django.utils import timezone

from .. import conf, tiling
from ..exceptions import ModelUnavailable, TrainingError
from ..methods.trained import TrainedStyle, declared
from ..trained_styles import METADATA_FILE, PAINTING_FILE, SAVED_MODEL_DIR, read_metadata
from ..training_runs import write_atomically
from . import converted, runtimes
from .style_network import MIN_SIDE, StyleNetwork
from .training import load_network_weights

SIGNATURE = "serving_default"

#: What a compiled OpenVINO model's activations take per pixel (measured 161-225 bytes).
BYTES_PER_PIXEL = 250


class _Serving(tf.Module):
    def __init__(self, network):
        super().__init__()
        self.network = network

    @tf.function(input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32, name="content")])
    def stylize(self, content):
        return {"stylized": self.network(content)}


def publish_checkpoint(run, force=False):
    """Publish the latest checkpoint of ``run`` as the trained style ``run.name``; returns its folder."""
    settings = run.settings()
    checkpoint = run.load_checkpoint()
    if checkpoint is None:
        raise TrainingError(f"The run {run.name!r} has no checkpoint to export yet.")
    arrays, state = checkpoint
    network = StyleNetwork(settings.seed)
    load_network_weights(network, arrays)
    metadata = {"name": run.name, "steps": state["step"], "losses": state["losses"], "trained_on": state["device"],
                "settings": vars(settings),
                "exported_at": timezone.now().isoformat(timespec="seconds")}
    if run.source_file.is_file():
        metadata["style"] = json.loads(run.source_file.read_text())
    return publish(network, run.name, metadata, run.style_file.read_bytes(), force)


def publish(network, name, metadata, painting, force=False):
    """Export ``network`` with ``metadata`` and ``painting`` (PNG bytes) as the trained style ``name``.

    Returns its folder.
    """
    root = conf.trained_model_dir()
    target = root / name
    if target.exists() and not force:
        raise TrainingError(f"A trained style called {name!r} exists already; choose another name or use --force.")
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=root, prefix=f".{name}.", suffix=".partial"))
        staging.chmod(0o755)  # mkdtemp's 0700 would hide the model from a site running as another user
    except OSError as error:
        raise TrainingError(f"Could not write to the trained-models folder {root}: {error}") from error
    try:
        serving = _Serving(network)
        tf.saved_model.save(serving, str(staging / SAVED_MODEL_DIR), signatures={SIGNATURE: serving.stylize})
        write_atomically(staging / PAINTING_FILE, painting)
        write_atomically(staging / METADATA_FILE, json.dumps(metadata, indent=2).encode())
        _move_into_place(staging, target)
    except BaseException as error:
        shutil.rmtree(staging, ignore_errors=True)
        if isinstance(error, (OSError, tf.errors.OpError)):
            raise TrainingError(f"Could not save the trained style {name!r} in {root}: {error}") from error
        raise
    return target


def _move_into_place(staging, target):
    """Rename ``staging`` to ``target``; an existing ``target`` is set aside first and restored on failure."""
    replaced = None
    if target.exists():
        replaced = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.replaced")
        target.rename(replaced)
    try:
        staging.rename(target)
    except OSError:
        if replaced is not None:
            replaced.rename(target)
        raise
    if replaced is not None:
        shutil.rmtree(replaced, ignore_errors=True)


class TrainedMethod(TrainedStyle):
    """A published style network, run by OpenVINO or TensorFlow; combined with its style's declaration."""

    def __init__(self, runtime=None):
        style_name = self.style_name
        folder = conf.trained_model_dir() / style_name
        self.metadata = read_metadata(folder)
        try:
            signature = tf.saved_model.load(str(folder / SAVED_MODEL_DIR)).signatures[SIGNATURE]
        except (OSError, KeyError, ValueError, tf.errors.OpError) as error:
            raise ModelUnavailable(f"The trained style {style_name!r} in {folder} could not be loaded ({error}). "
                                   f"Export it again with `python manage.py train_style --name {style_name} "
                                   "--export --force`.") from error
        self._network = converted.network(
            lambda content: signature(content=tf.constant(content, tf.float32))["stylized"].numpy(),
            str(folder / SAVED_MODEL_DIR), runtime or runtimes.configured(), BYTES_PER_PIXEL)
        self.label = f"{self.label} on {self._network.runs_on}"

    def stylize(self, content, styles=(), strength=1.0, quality=None, tile_size=None, progress=None,
                content_style=None):
        """Repaint ``content`` in the trained painting; ``styles`` are ignored (the network is its style)."""
        tile_size = tile_size or tiling.DEFAULT_TILE_SIZE
        if max(content.shape[1:3]) > tile_size:
            return tiling.stylize_in_tiles(content, self._stylize_whole, tile_size)
        return self._stylize_whole(content)

    def _stylize_whole(self, content):
        height, width = content.shape[1:3]
        padded = np.pad(content, ((0, 0), (0, max(0, MIN_SIDE - height)), (0, max(0, MIN_SIDE - width)), (0, 0)),
                        mode="symmetric")
        stylized = self._network(padded)
        return np.clip(stylized[:, :height, :width], 0.0, 1.0)


def trained_method_class(style_name):
    """The engine class of the published style ``style_name``, with its declaration. Raises ModelUnavailable."""
    return declared(style_name).engine_class()
