"""The one place that chooses, loads and caches the style-transfer model.

``get_engine()`` loads the engine named by ``NST_ENGINE`` the first time it is
called in a process and returns the same instance afterwards, from any thread.
A failure to load is remembered too, so every page can say why the model is
unavailable without retrying a slow download on each request.
"""
import logging
import threading
import time

import numpy as np
from django.utils.module_loading import import_string

from .. import conf
from ..exceptions import ModelUnavailable

logger = logging.getLogger(__name__)

ENGINES = {
    "hub": "tfapp.engines.hub.HubEngine",
    "lite": "tfapp.engines.lite.LiteEngine",
}

_lock = threading.Lock()
_engine = None
_error = None
load_count = 0


def get_engine():
    """The process's engine, loaded on first use. Raises ModelUnavailable."""
    global _engine, _error, load_count
    if _engine is None and _error is None:
        with _lock:
            if _engine is None and _error is None:
                try:
                    _engine = create(conf.engine_name())
                    load_count += 1
                except ModelUnavailable as error:
                    _error = error
    if _error is not None:
        raise _error
    return _engine


def create(name):
    """A new, uncached instance of the engine called ``name``. Raises ModelUnavailable."""
    if name not in ENGINES:
        raise ModelUnavailable(
            f"NST_ENGINE is {name!r}; it must be one of: {', '.join(sorted(ENGINES))}."
        )
    started = time.perf_counter()
    engine = import_string(ENGINES[name])()
    logger.info("Loaded the %s engine in %.1f s.", name, time.perf_counter() - started)
    return engine


def unavailable_reason():
    """Why the model cannot be used, or ``None`` when it is loaded and ready."""
    try:
        get_engine()
    except ModelUnavailable as error:
        return str(error)
    return None


def warm_up():
    """Load the engine and run one small transfer, so the first user does not wait."""
    try:
        engine = get_engine()
    except ModelUnavailable as error:
        logger.warning("Style-transfer model unavailable: %s", error)
        return
    tiny = np.full((1, 64, 64, 3), 0.5, np.float32)
    engine.stylize(tiny, tiny)


def reset():
    """Forget the loaded engine (used by tests that switch engines)."""
    global _engine, _error
    with _lock:
        _engine = None
        _error = None
