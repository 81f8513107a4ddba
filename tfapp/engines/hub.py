"""The TF-Hub engine: Magenta's arbitrary image stylization SavedModel.

The model (Ghiasi et al. 2017) is one call, ``model(content, style)[0]``: an
Inception-v3 style predictor feeding a transformer network that halves the content
twice and doubles it back. ``tensorflow_hub`` downloads it once into
``conf.hub_cache_dir()``; a local SavedModel directory works as the handle too.
"""
import contextlib
import http.client
import logging
import math
import os
import socket
import tarfile
import urllib.error

import numpy as np
import tensorflow as tf
import tensorflow_hub as hub

from .. import conf
from ..exceptions import ModelUnavailable, OutOfResources
from ..methods.magenta import Hub

logger = logging.getLogger(__name__)

# The transformer's two stride-2 convolutions return ceil(n / 4) * 4 pixels per side,
# and its 9x9 mirror-padded first convolution fails on sides under 5 pixels.
CONTENT_MULTIPLE = 4
CONTENT_MIN_SIDE = 5

# Inception-v3's unpadded convolutions and pools up to Mixed_6a need 43 pixels.
STYLE_MIN_SIDE = 43

# What loading can raise: a missing path is an OSError, the network urllib's errors
# (OSErrors too, listed for the reader), a folder that is no SavedModel a ValueError,
# a truncated or corrupt download a tarfile, gzip (EOFError) or HTTP protocol error.
LOAD_ERRORS = (
    OSError,
    ValueError,
    EOFError,
    tarfile.TarError,
    http.client.HTTPException,
    urllib.error.URLError,
    tf.errors.OpError,
)


def use_project_cache():
    """Make ``tensorflow_hub`` cache downloads in ``conf.hub_cache_dir()``; return that folder.

    Without this it falls back to the system's temporary folder, so every machine
    reboot (or container) would download the model again.
    """
    cache_dir = conf.hub_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    os.environ["TFHUB_CACHE_DIR"] = str(cache_dir)
    return cache_dir


@contextlib.contextmanager
def _unavailable_on_failure(handle):
    """Turn any failure to fetch or read the model at ``handle`` into ModelUnavailable."""
    try:
        yield
    except LOAD_ERRORS as error:
        reason = _first_line(error)
        logger.warning("Could not load the TF-Hub model %s: %s", handle, reason)
        raise ModelUnavailable(
            f"The TF-Hub model {handle} could not be loaded ({reason}); set NST_ENGINE=lite, "
            "point NST_HUB_HANDLE at a reachable URL or a local SavedModel directory, "
            "or run `python manage.py download_models` on a connected machine."
        ) from error


def _first_line(error):
    """A short, single-line description of ``error`` for a user-facing sentence."""
    if isinstance(error, urllib.error.URLError) and not isinstance(error, urllib.error.HTTPError):
        error = error.reason
    lines = str(error).strip().splitlines()
    text = lines[0].rstrip(".") if lines else type(error).__name__
    return text if len(text) <= 200 else text[:197] + "..."


@contextlib.contextmanager
def _network_timeout():
    """Give tensorflow_hub's downloads a timeout: its resolver calls urlopen without one.

    The default socket timeout is process-wide, so it is set only while a model is
    fetched, which happens before the process serves requests or takes jobs.
    """
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(conf.hub_timeout())
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def resolve(handle=None):
    """Download the model at ``handle`` (default: ``conf.hub_handle()``) into the cache.

    Returns the local directory holding the SavedModel. Raises ModelUnavailable.
    """
    handle = handle or conf.hub_handle()
    use_project_cache()
    with _unavailable_on_failure(handle), _network_timeout():
        return hub.resolve(handle)


class HubEngine(Hub):
    """Magenta's arbitrary image stylization network, loaded through ``tensorflow_hub``."""

    def __init__(self):
        handle = conf.hub_handle()
        use_project_cache()
        with _unavailable_on_failure(handle), _network_timeout():
            self.model = hub.load(handle)

    def stylize(self, content, styles, strength=1.0, quality=None, tile_size=None, progress=None,
                content_style=None):
        """See :meth:`Method.stylize`: one style image at full strength; any content size from 1x1 up."""
        style = styles[0][0]
        height, width = content.shape[1:3]
        content_input = reflect_pad(content, _network_side(height), _network_side(width))
        style_input = reflect_pad(
            style, max(style.shape[1], STYLE_MIN_SIDE), max(style.shape[2], STYLE_MIN_SIDE)
        )
        try:
            output = self.model(tf.constant(content_input), tf.constant(style_input))[0]
        except tf.errors.ResourceExhaustedError as error:
            raise OutOfResources("The machine ran out of memory while stylizing.") from error
        return np.clip(np.asarray(output, np.float32)[:, :height, :width], 0.0, 1.0)


def _network_side(side):
    """The side length, at least ``side``, that the transformer maps to itself."""
    return CONTENT_MULTIPLE * math.ceil(max(side, CONTENT_MIN_SIDE) / CONTENT_MULTIPLE)


def reflect_pad(tensor, height, width):
    """Mirror ``[1, h, w, 3]`` at its bottom and right edges up to ``height`` x ``width``.

    Mirroring, rather than zeros, continues the picture the way the network's own
    mirror-padded convolutions do; NumPy repeats the mirroring when the padding is
    wider than the image, so even a 1x1 image can be padded.
    """
    extra_rows = height - tensor.shape[1]
    extra_cols = width - tensor.shape[2]
    padding = ((0, 0), (0, extra_rows), (0, extra_cols), (0, 0))
    return np.pad(np.asarray(tensor, np.float32), padding, mode="reflect")
