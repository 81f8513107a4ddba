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
from ..trained_styles import METADATA_FILE, PAINTING_FILE, PREFIX, SAVED_MODEL_DIR, published_names, read_metadata
from ..training_runs import write_atomically
from . import converted, runtimes
from .base import Capabilities, Method
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


class TrainedMethod(Method):
    """A published style network: one painting, any photo size, in one fast pass."""

    engine = "trained"
    queue = "default"
    capabilities = Capabilities(strength=False, blending=False, preserve_colours=True, style_scale=False,
                                style_input=False)
    reasons = {
        "style_input": "A trained style paints only the painting it was trained on: no style image is needed.",
        "strength": "A trained network paints its one style at full strength; anything weaker would only be "
                    "the photo blended with the result pixel by pixel, which is not offered.",
        "blending": "A trained network knows only the painting it was trained on.",
        "style_scale": "The brush-stroke scale was fixed when the network was trained.",
    }

    #: The trained style's name (the folder it is published in).
    style_name = ""

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

    @classmethod
    def check_available(cls):
        folder = conf.trained_model_dir() / cls.style_name / SAVED_MODEL_DIR
        if not folder.is_dir():
            raise ModelUnavailable(f"The trained style {cls.style_name!r} has no network in {folder}. Export it "
                                   f"again with `python manage.py train_style --name {cls.style_name} --export "
                                   "--force`.")
        runtimes.check_settings()

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

    @classmethod
    def estimate_seconds(cls, width, height, quality=None):
        return SECONDS_PER_PIXEL * width * height


def trained_method_class(style_name):
    """The :class:`TrainedMethod` subclass of the published style ``style_name``. Raises ModelUnavailable."""
    folder = conf.trained_model_dir() / style_name
    if style_name not in published_names():
        raise ModelUnavailable(f"There is no trained style called {style_name!r} in {conf.trained_model_dir()}.")
    metadata = read_metadata(folder)
    painting = metadata.get("style", {}).get("source", "one painting")
    return type(f"TrainedMethod_{style_name}", (TrainedMethod,), {
        "style_name": style_name, "name": PREFIX + style_name, "label": f"Trained: {style_name}",
        "description": f"A network trained on {painting} for {metadata.get('steps', '?')} steps: fast at any size.",
        "painting": folder / PAINTING_FILE})


#: Measured by bench/trained_styles.py on two CPU cores.
SECONDS_PER_PIXEL = 0.4e-6
