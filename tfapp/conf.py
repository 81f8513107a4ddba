"""The settings tfapp reads, each with its default and what it does.

Override any of them in the Django settings module; the deployment ones are read
from environment variables of the same name in ``nst_site/settings/base.py``.
"""
import os
from pathlib import Path

from django.conf import settings

from .changes import check_interval

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


def hub_timeout():
    """Seconds a TF-Hub download may wait for the server before the model is declared unavailable."""
    return float(_get("NST_HUB_TIMEOUT", 60))


def lite_model_dir():
    """Folder holding the Magenta TFLite files (``download_models`` fills the default one)."""
    return Path(_get("NST_LITE_MODEL_DIR", model_dir() / "magenta-lite"))


def vgg_weights_path():
    """The normalised VGG-19 weights (``.npz``) that Gatys, the benchmarks and training measure images with."""
    return Path(_get("NST_VGG_WEIGHTS", model_dir() / "vgg19-normalised" / "vgg19_normalised_relu4_1.npz"))


def adain_model_dir():
    """Folder holding AdaIN's frozen encoder and decoder graphs (``download_models --engine adain`` fills it)."""
    return Path(_get("NST_ADAIN_MODEL_DIR", model_dir() / "adain-vgg19"))


def model_base_url():
    """Where ``download_models`` fetches the TFLite files from."""
    return _get(
        "NST_MODEL_BASE_URL",
        "https://storage.googleapis.com/download.tensorflow.org/models/tflite/arbitrary_style_transfer/",
    )


def adain_base_url():
    """Where ``download_models`` fetches AdaIN's two frozen graphs (and derives the VGG-19 weights) from."""
    return _get("NST_ADAIN_BASE_URL", "https://raw.githubusercontent.com/penny4860/tf-adain/master/adain/models/")


def max_content_size():
    """Long side, in pixels, that content images are resized to before stylization."""
    return int(_get("NST_MAX_CONTENT_SIZE", 512))


def style_size():
    """Long side, in pixels, that the style image is seen at; it sets the scale of the brush strokes."""
    return int(_get("NST_STYLE_SIZE", 256))


def style_pooling():
    """Smooth the style image with the TF-Hub tutorial's 3x3 average pooling before Magenta predicts its style."""
    return bool(_get("NST_STYLE_POOLING", True))


def max_upload_bytes():
    """Largest upload accepted, in bytes."""
    return int(_get("NST_MAX_UPLOAD_BYTES", 20 * 1024 * 1024))


def max_upload_pixels():
    """Largest decoded image accepted, in pixels (width x height); larger files are refused unread."""
    return int(_get("NST_MAX_UPLOAD_PIXELS", 40_000_000))


def max_attempts():
    """How many times a transfer is started before a crashing worker makes it fail for good."""
    return int(_get("NST_MAX_ATTEMPTS", 3))


#: The job queues: fast work (Magenta, AdaIN) and minutes-long work (Gatys), each with its own workers.
QUEUES = ("default", "slow")


def job_time_limit(queue="default"):
    """Seconds a transfer may run before it is stopped and marked failed (the slow queue has its own limit)."""
    if queue == "slow":
        return float(_get("NST_SLOW_JOB_TIME_LIMIT", 1800))
    return float(_get("NST_JOB_TIME_LIMIT", 120))


def slow_workers():
    """Workers ``serve`` starts for the slow queue, besides the ``NST_WORKERS`` for the default one."""
    return int(_get("NST_SLOW_WORKERS", 1))


def worker_niceness():
    """How much lower a fast-queue worker's CPU priority is than the web server's, so pages do not wait on a model."""
    return int(_get("NST_WORKER_NICE", 5))


def slow_worker_niceness():
    """How much lower a slow-queue worker's CPU priority is, so a long job yields to fast transfers (at 5)."""
    return int(_get("NST_SLOW_WORKER_NICE", 15))


def worker_overlap():
    """Whether a fast-queue worker reads the next transfer and stores the last while one's model runs (jobs.Pipeline)."""
    return bool(_get("NST_WORKER_OVERLAP", True))


def preview_interval():
    """Least seconds between two previews a long-running transfer stores while it runs."""
    return float(_get("NST_PREVIEW_INTERVAL", 2))


def heartbeat_seconds():
    """How often a worker confirms it is still working on a transfer."""
    return float(_get("NST_HEARTBEAT_SECONDS", 2))


def stale_after():
    """Seconds without a heartbeat after which a running transfer's worker is presumed dead."""
    return float(_get("NST_STALE_AFTER", 10))


def max_pending_per_client():
    """Transfers one client may have queued or running at once."""
    return int(_get("NST_MAX_PENDING_PER_CLIENT", 5))


def max_pending_total():
    """Transfers that may be queued or running at once, across all clients."""
    return int(_get("NST_MAX_PENDING_TOTAL", 200))


def worker_poll_interval():
    """Seconds an idle database-queue worker waits between checks for new transfers.

    On SQLite a check reads a commit counter (no query, no lock), so the default is 25 ms;
    on other databases each check is a query, and the default is 50 ms.
    """
    return float(_get("NST_WORKER_POLL_INTERVAL", check_interval()))


def status_wait():
    """Seconds a result page's status request may wait for a change (long-polling); 0 answers at once."""
    return float(_get("NST_STATUS_WAIT", 20))


def engine_threads():
    """CPU threads one engine uses; ``serve`` divides the cores among its workers."""
    return int(_get("NST_ENGINE_THREADS", os.cpu_count() or 1))


def max_output_size():
    """Largest long side, in pixels, a user may ask for; above 1024 the network runs in tiles."""
    return int(_get("NST_MAX_OUTPUT_SIZE", 1024))


def output_sizes():
    """The output sizes the upload form offers, up to ``max_output_size()``."""
    return [size for size in (512, 768, 1024, 2048, 3072, 4096) if size <= max_output_size()]


def signup_open():
    """Whether visitors may create their own account on the sign-up page (staff can always add users)."""
    return bool(_get("NST_SIGNUP_OPEN", True))


def api_anonymous():
    """Whether the API accepts requests without a token or sign-in (acting for the browser session)."""
    return bool(_get("NST_API_ANONYMOUS", False))


def api_rate_limit():
    """API requests one token (or, without one, one address) may make per minute; more get 429."""
    return int(_get("NST_API_RATE_LIMIT", 120))


def web_processes():
    """Web server processes ``serve`` starts: one Python process serves at most one core's worth of pages.

    Each imports the app and the method modules (and with them TensorFlow), about
    0.58 GB resident. Three served pages faster than two or four on the 2-core machine
    (bench/web_servers.py), while a worker ran beside them.
    """
    return int(_get("NST_WEB_PROCESSES", 3))


def web_threads():
    """Threads per web server process: requests served at once, long-polling status requests included."""
    return int(_get("NST_WEB_THREADS", 32))


def runtime():
    """What runs the networks (lite engine, AdaIN, trained styles): ``openvino``, ``litert`` or empty for the fastest."""
    return str(_get("NST_RUNTIME", ""))


def precision():
    """``auto`` (bf16 on OpenVINO where the CPU has native bfloat16, else f32), ``f32`` (exact) or ``bf16``."""
    return str(_get("NST_PRECISION", "auto"))


def trained_model_dir():
    """Folder of the published trained style networks, one subfolder per name (``train_style`` fills it)."""
    return Path(_get("NST_TRAINED_MODEL_DIR", model_dir() / "trained"))


def training_run_dir():
    """Folder of training runs in progress (checkpoints, logs, validation images), one subfolder per name.

    Derived from ``NST_MODEL_DIR``, not a setting of its own.
    """
    return model_dir() / "training-runs"


def video_max_seconds():
    """Longest clip accepted, in seconds; longer ones are refused (``too_long``)."""
    return float(_get("NST_VIDEO_MAX_SECONDS", 30))


def video_max_side():
    """Long side, in pixels, of a stylized clip: larger clips are scaled down to it, never refused for it."""
    return int(_get("NST_VIDEO_MAX_SIDE", 1280))


def video_max_frames():
    """Most frames a clip may have (at its average frame rate); more are refused (``too_many_frames``)."""
    return int(_get("NST_VIDEO_MAX_FRAMES", 900))


def video_max_bytes():
    """Largest clip file accepted, in bytes (``too_big_file``)."""
    return int(_get("NST_VIDEO_MAX_BYTES", 200 * 1024 * 1024))


def video_consistency():
    """0..1: how much of the previous painted frame, carried along the motion, each new frame keeps (0: none)."""
    return float(_get("NST_VIDEO_CONSISTENCY", 0.7))
