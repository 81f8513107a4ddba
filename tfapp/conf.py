"""The settings tfapp reads, each with its default and what it does.

Override any of them in the Django settings module; the deployment ones are read
from environment variables of the same name in ``nst_site/settings/base.py``.
"""
from pathlib import Path

from django.conf import settings

HUB_DEFAULT_HANDLE = "https://tfhub.dev/google/magenta/arbitrary-image-stylization-v1-256/2"


def _get(name, default):
    return getattr(settings, name, default)


def engine_name():
    """``hub`` (TF-Hub SavedModel, the default) or ``lite`` (Magenta's two-stage TFLite model)."""
    return _get("NST_ENGINE", "hub")


def model_dir():
    """Persistent directory for downloaded models (the TF-Hub cache lives in its ``tfhub`` subfolder)."""
    return Path(_get("NST_MODEL_DIR", Path(settings.BASE_DIR) / "var" / "models"))


def hub_handle():
    """TF-Hub handle: a tfhub.dev/Kaggle URL, any URL of a ``.tar.gz`` SavedModel, or a local directory."""
    return str(_get("NST_HUB_HANDLE", HUB_DEFAULT_HANDLE))


def hub_cache_dir():
    """Where tensorflow_hub caches downloads, so a model is fetched once, not once per process."""
    return model_dir() / "tfhub"


def lite_model_dir():
    """Folder holding the Magenta TFLite files (``download_models`` fills the default one)."""
    return Path(_get("NST_LITE_MODEL_DIR", model_dir() / "magenta-lite"))


def model_base_url():
    """Where ``download_models`` fetches the TFLite files from."""
    return _get(
        "NST_MODEL_BASE_URL",
        "https://storage.googleapis.com/download.tensorflow.org/models/tflite/arbitrary_style_transfer/",
    )


def max_content_size():
    """Long side, in pixels, that content images are resized to before stylization."""
    return int(_get("NST_MAX_CONTENT_SIZE", 512))


def style_size():
    """Long side, in pixels, that the style image is seen at; it sets the scale of the brush strokes."""
    return int(_get("NST_STYLE_SIZE", 256))


def style_pooling():
    """Smooth the style image with the TF-Hub tutorial's 3x3 average pooling before predicting its style."""
    return bool(_get("NST_STYLE_POOLING", True))


def max_upload_bytes():
    """Largest upload accepted, in bytes."""
    return int(_get("NST_MAX_UPLOAD_BYTES", 20 * 1024 * 1024))


def max_upload_pixels():
    """Largest decoded image accepted, in pixels (width x height); larger files are refused unread."""
    return int(_get("NST_MAX_UPLOAD_PIXELS", 40_000_000))


def warm_on_start():
    """Load the model when a server process starts, so the first user does not wait for it."""
    return bool(_get("NST_WARM_ON_START", True))
