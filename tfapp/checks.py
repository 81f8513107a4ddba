"""System checks: warn, on every ``manage.py`` command, when a method's model cannot be found.

They only look at settings and files. Loading TensorFlow or the model, or asking
the network, would slow down every command, ``migrate`` and ``check`` included.
"""
import hashlib
from pathlib import Path

from django.core.checks import Warning, register

from . import conf
from .engines import MAGENTA_ENGINES

#: The frozen graphs the ``adain`` method loads.
ADAIN_REQUIRED_FILES = ("encoder_opt_quantized.pb", "decoder_opt_quantized.pb")

#: The TFLite files the ``lite`` engine loads.
LITE_REQUIRED_FILES = ("style_predict_quantized_256.tflite", "style_transfer_f16_384.tflite")

OFFLINE_HINT = (
    "On a connected machine run `python manage.py download_models`; offline, set "
    "NST_ENGINE=lite and NST_LITE_MODEL_DIR to a folder holding the TFLite files."
)


@register()
def check_model(app_configs, **kwargs):
    """Warn when NST_ENGINE is unknown or the files Magenta's engine needs are missing."""
    engine = conf.engine_name()
    if engine not in MAGENTA_ENGINES:
        return [
            Warning(
                f"NST_ENGINE is {engine!r}, which is not an engine of the magenta method.",
                hint=f"Set NST_ENGINE to one of: {', '.join(sorted(MAGENTA_ENGINES))}.",
                id="tfapp.W001",
            )
        ]
    if engine == "lite":
        return _check_lite()
    return _check_hub()


def _check_lite():
    """Warn when the lite model folder lacks a required file."""
    folder = conf.lite_model_dir()
    missing = [name for name in LITE_REQUIRED_FILES if not (folder / name).is_file()]
    if not missing:
        return []
    return [
        Warning(
            f"The lite engine's model folder {folder} lacks {', '.join(missing)}.",
            hint=(
                "Run `python manage.py download_models --engine lite`, or set "
                "NST_LITE_MODEL_DIR to a folder holding these files."
            ),
            id="tfapp.W002",
        )
    ]


def _check_hub():
    """Warn when the TF-Hub handle is a missing folder, or a URL not downloaded yet."""
    handle = conf.hub_handle()
    if handle.startswith(("http://", "https://")):
        return [] if _is_cached(handle) else [_not_cached_warning(handle)]
    if "://" in handle or Path(handle).is_dir():
        return []
    return [
        Warning(
            f"NST_HUB_HANDLE is {handle}, a folder that does not exist.",
            hint="Set NST_HUB_HANDLE to a SavedModel folder or URL. " + OFFLINE_HINT,
            id="tfapp.W003",
        )
    ]


def _is_cached(handle):
    """Whether ``tensorflow_hub`` has already downloaded ``handle`` into the project's cache."""
    # tensorflow_hub (compressed_module_resolver._module_dir) keeps each download in
    # a folder named after the SHA-1 of its handle.
    folder = conf.hub_cache_dir() / hashlib.sha1(handle.encode("utf8")).hexdigest()
    return folder.is_dir() and any(folder.iterdir())


def _not_cached_warning(handle):
    return Warning(
        f"The TF-Hub model {handle} has not been downloaded to {conf.hub_cache_dir()} yet; "
        "the first transfer will try to download it.",
        hint=OFFLINE_HINT,
        id="tfapp.W004",
    )


@register()
def check_method_weights(app_configs, **kwargs):
    """Warn, per method, when the AdaIN graphs or the VGG-19 weights Gatys needs are missing."""
    warnings = []
    folder = conf.adain_model_dir()
    missing = [name for name in ADAIN_REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        warnings.append(Warning(
            f"The adain method is unavailable: its model folder {folder} lacks {', '.join(missing)}.",
            hint="Run `python manage.py download_models --engine adain` (add `--source FOLDER` offline), or set "
                 "NST_ADAIN_MODEL_DIR to a folder holding these files.",
            id="tfapp.W005",
        ))
    weights = conf.vgg_weights_path()
    if not weights.is_file():
        warnings.append(Warning(
            f"The gatys method is unavailable: the VGG-19 weights {weights} are missing.",
            hint="Run `python manage.py download_models --engine vgg` (add `--source FOLDER` offline), or set "
                 "NST_VGG_WEIGHTS to the .npz file.",
            id="tfapp.W006",
        ))
    return warnings
