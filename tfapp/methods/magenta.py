"""Magenta's arbitrary image stylization network (Ghiasi et al. 2017), whichever implementation runs it.

``NST_ENGINE`` picks the implementation: ``lite`` (:class:`Lite`, run by
:mod:`tfapp.engines.lite`: the two-stage TFLite files, with style vectors) or
``hub`` (:class:`Hub`, run by :mod:`tfapp.engines.hub`: the TF-Hub SavedModel, end
to end).
"""
import hashlib
from pathlib import Path

from django.core.checks import Warning

from .. import conf, runtime_choice
from ..exceptions import ModelUnavailable
from .base import Capabilities, Method, missing_files, require_files

#: Measured on the 2-core development machine (docs/engines.md, bench/lite_engines.py): about
#: 0.9 us per content pixel plus the style prediction and fixed costs.
SECONDS_PER_PIXEL = 0.9e-6
FIXED_SECONDS = 0.05

PREDICT_FILE = "style_predict_quantized_256.tflite"
TRANSFER_FILE = "style_transfer_f16_384.tflite"
#: The TFLite files the lite engine loads.
LITE_FILES = (PREDICT_FILE, TRANSFER_FILE)
#: What ``download_models --engine lite`` fetches, with the published SHA-256 digests: the
#: engine's files and the two int8 variants ``bench/lite_engines.py`` compares them with.
LITE_DOWNLOADS = {
    PREDICT_FILE: "203dbd6a09da1091ab7e48e8b101aef8c2d81438ad047a5cb150747a977134c1",
    TRANSFER_FILE: "c60cff7395544eda1f0915d6dddaedd8ed868cefe8ec6c5ed220ba801f120303",
    "style_transfer_quantized_384.tflite": "1972f7d438b6e9ff326c466db1a8005a8a0efa0274886bbd52f91dc8be2f4f04",
    "style_transfer_quantized_dynamic.tflite": "69b191c1f1f3f6520634293803a528469015a00269f982ebd38b7850f68d9341",
}

#: Shape of a style vector: what the prediction network makes of a style image.
STYLE_VECTOR_SHAPE = (1, 1, 1, 100)

OFFLINE_HINT = (
    "On a connected machine run `python manage.py download_models`; offline, set "
    "NST_ENGINE=lite and NST_LITE_MODEL_DIR to a folder holding the TFLite files."
)

VECTORLESS = ("The TF-Hub model takes the style image end to end and exposes no style vector, so strength "
              "and blending need NST_ENGINE=lite.")


class MagentaMethod(Method):
    name = "magenta"
    label = "Fast (Magenta)"
    description = ("Magenta's arbitrary stylization network (Ghiasi et al. 2017): a fraction of a second, "
                   "any painting.")
    queue = "default"
    smooths_style = True
    strength_help = ("Mixes the painting's style vector with your photo's own: 0 % is the network's rendition "
                     "of your photo, 100 % the full style.")

    @classmethod
    def estimate_seconds(cls, width, height, quality=None):
        return FIXED_SECONDS + SECONDS_PER_PIXEL * width * height


class Lite(MagentaMethod):
    """The TFLite files, run by OpenVINO or LiteRT (``NST_RUNTIME``)."""

    engine = "lite"
    implementation = "tfapp.engines.lite.LiteEngine"
    download = "lite"
    capabilities = Capabilities(strength=True, blending=True, style_vectors=True, regions=True)
    style_vector_shape = STYLE_VECTOR_SHAPE

    @classmethod
    def check_available(cls):
        check_lite_files(conf.lite_model_dir())
        runtime_choice.check_settings()

    @classmethod
    def system_checks(cls):
        """Warn when the lite model folder lacks a required file."""
        folder = conf.lite_model_dir()
        missing = missing_files(folder, LITE_FILES)
        if not missing:
            return []
        return [Warning(f"The lite engine's model folder {folder} lacks {', '.join(missing)}.",
                        hint="Run `python manage.py download_models --engine lite`, or set NST_LITE_MODEL_DIR to a "
                             "folder holding these files.", id="tfapp.W002")]


class Hub(MagentaMethod):
    """The TF-Hub SavedModel, loaded through ``tensorflow_hub``."""

    engine = "hub"
    implementation = "tfapp.engines.hub.HubEngine"
    download = "hub"
    # The published signature maps (content, style) to an image; the style vector
    # between its two networks is not exposed, and strength and blending work on it.
    capabilities = Capabilities(regions=True)
    reasons = {"strength": VECTORLESS, "blending": VECTORLESS}

    @classmethod
    def check_available(cls):
        """The model is a SavedModel folder, or a URL already downloaded into the cache; nothing is fetched here.

        A worker fetches a URL when it loads the method; web processes only look.
        """
        handle = conf.hub_handle()
        if "://" not in handle:
            if not Path(handle).is_dir():
                raise ModelUnavailable(f"NST_HUB_HANDLE is {handle}, a folder that does not exist; point it at a "
                                       "SavedModel folder or URL, or set NST_ENGINE=lite.")
        elif not hub_model_cached(handle):
            raise ModelUnavailable(f"The TF-Hub model {handle} has not been downloaded to {conf.hub_cache_dir()} "
                                   "yet. Run `python manage.py download_models --engine hub` on a connected machine "
                                   "(a worker also fetches it when it starts), or set NST_ENGINE=lite.")

    @classmethod
    def system_checks(cls):
        """Warn when the TF-Hub handle is a missing folder, or a URL not downloaded yet."""
        handle = conf.hub_handle()
        if handle.startswith(("http://", "https://")):
            if hub_model_cached(handle):
                return []
            return [Warning(f"The TF-Hub model {handle} has not been downloaded to {conf.hub_cache_dir()} yet; "
                            "the first transfer will try to download it.", hint=OFFLINE_HINT, id="tfapp.W004")]
        if "://" in handle or Path(handle).is_dir():
            return []
        return [Warning(f"NST_HUB_HANDLE is {handle}, a folder that does not exist.",
                        hint="Set NST_HUB_HANDLE to a SavedModel folder or URL. " + OFFLINE_HINT, id="tfapp.W003")]


#: Magenta's declarations by ``NST_ENGINE``.
ENGINES = {"lite": Lite, "hub": Hub}


def declared():
    """Magenta's declaration for ``NST_ENGINE``. Raises ModelUnavailable when it names no engine."""
    engine = conf.engine_name()
    if engine not in ENGINES:
        raise ModelUnavailable(f"NST_ENGINE is {engine!r}; it must be one of: {', '.join(sorted(ENGINES))}.")
    return ENGINES[engine]


def check_lite_files(folder):
    require_files(folder, LITE_FILES, "TFLite", "lite", "NST_LITE_MODEL_DIR")


def hub_model_cached(handle):
    """Whether ``tensorflow_hub`` has already downloaded ``handle`` into the project's cache."""
    # tensorflow_hub (compressed_module_resolver._module_dir) keeps each download in
    # a folder named after the SHA-1 of its handle.
    folder = conf.hub_cache_dir() / hashlib.sha1(handle.encode("utf8")).hexdigest()
    return folder.is_dir() and any(folder.iterdir())
