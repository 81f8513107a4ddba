"""The method registry: which style-transfer methods exist, and each one loaded once per process.

``get(name)`` loads a method the first time it is asked for in a process and returns
the same instance afterwards, from any thread; methods load independently, so a slow
or failing one never holds up another. A failure to load is remembered too, so every
page can say why a method is unavailable without retrying a slow download on each
request. ``method_class(name)`` gives a method's declarations (label, queue,
capabilities) without loading its weights, and ``unavailable_reason(name)`` says
whether it can run from the method's own check (files present, settings valid), so
web processes tell visitors what runs without holding any network; only workers load them.
A trained style exported again (``train_style --force``) is loaded again on its next use:
what the process knew of the previous export is forgotten.
"""
import logging
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from django.utils.module_loading import import_string

from .. import conf, trained_styles
from ..exceptions import ModelUnavailable
from .base import Capabilities

logger = logging.getLogger(__name__)

#: Every method, in the order the pages offer them. Magenta's class depends on NST_ENGINE.
METHODS = {
    "magenta": None,
    "adain": "tfapp.engines.adain.AdainMethod",
    "gatys": "tfapp.engines.gatys.GatysMethod",
}

#: Magenta's two implementations, chosen by NST_ENGINE.
MAGENTA_ENGINES = {
    "hub": "tfapp.engines.hub.HubEngine",
    "lite": "tfapp.engines.lite.LiteEngine",
}

DEFAULT_METHOD = "magenta"

_locks = {name: threading.Lock() for name in METHODS}
_loaded = {}
_errors = {}
_checked = set()
#: Each trained style's export (its folder's identity) when this process last looked; see ``_forget_if_replaced``.
_versions = {}
load_count = 0


def names():
    """The identifiers of all methods, available or not, in display order; then the trained styles.

    A trained style is a network published by ``manage.py train_style`` into
    ``NST_TRAINED_MODEL_DIR``, named ``trained:NAME``; one published while the site
    runs is offered at once.
    """
    return list(METHODS) + [trained_styles.PREFIX + name for name in trained_styles.published_names()]


def method_class(name):
    """The class of method ``name``, without loading its weights. Raises ModelUnavailable."""
    if name.startswith(trained_styles.PREFIX):
        from .trained import trained_method_class
        return trained_method_class(name[len(trained_styles.PREFIX):])
    if name not in METHODS:
        raise ModelUnavailable(f"There is no style-transfer method called {name!r}; choose one of: "
                               f"{', '.join(METHODS)}.")
    return import_string(METHODS[name] or _magenta_path(conf.engine_name()))


def _magenta_path(engine):
    if engine not in MAGENTA_ENGINES:
        raise ModelUnavailable(
            f"NST_ENGINE is {engine!r}; it must be one of: {', '.join(sorted(MAGENTA_ENGINES))}."
        )
    return MAGENTA_ENGINES[engine]


def get(name=DEFAULT_METHOD):
    """Method ``name``, loaded on first use in this process. Raises ModelUnavailable."""
    _forget_if_replaced(name)
    if name not in _loaded and name not in _errors:
        with _locks.get(name, _fallback_lock):
            if name not in _loaded and name not in _errors:
                try:
                    _loaded[name] = _load(name)
                except ModelUnavailable as error:
                    _errors[name] = error
    if name in _errors:
        raise _errors[name]
    return _loaded[name]


_fallback_lock = threading.Lock()


def _load(name):
    global load_count
    started = time.perf_counter()
    method = method_class(name)()
    load_count += 1
    logger.info("Loaded the %s method (%s) in %.1f s.", name, method.engine, time.perf_counter() - started)
    return method


def _forget_if_replaced(name):
    """Forget the loaded method ``name``, its check and its error if its files were replaced since.

    Only a trained style's are: an export renames a whole new folder into place, so the
    folder's identity tells one export from the next at the cost of one ``stat``.
    """
    if not name.startswith(trained_styles.PREFIX):
        return
    version = trained_styles.version(name[len(trained_styles.PREFIX):])
    if _versions.get(name) != version:
        with _fallback_lock:
            if _versions.get(name) != version:
                _loaded.pop(name, None)
                _errors.pop(name, None)
                _checked.discard(name)
                _versions[name] = version


def create_magenta(engine):
    """A new, uncached Magenta method with the implementation ``engine`` (``hub`` or ``lite``)."""
    return import_string(_magenta_path(engine))()


def unavailable_reason(name=DEFAULT_METHOD):
    """Why method ``name`` cannot be used, or ``None`` when it can, found without loading it.

    The method's check runs once per process; a failure to load since (a damaged file)
    is remembered and given instead.
    """
    _forget_if_replaced(name)
    if name not in _loaded and name not in _errors and name not in _checked:
        with _locks.get(name, _fallback_lock):
            if name not in _loaded and name not in _errors and name not in _checked:
                try:
                    method_class(name).check_available()
                except ModelUnavailable as error:
                    _errors[name] = error
                else:
                    _checked.add(name)
    return str(_errors[name]) if name in _errors else None


def availability():
    """``{name: reason it is unavailable, or None}`` for every method."""
    return {name: unavailable_reason(name) for name in names()}


def warm_up(names_to_load=None):
    """Load the methods (all by default) and run each fast one once, so the first user does not wait."""
    tiny = np.full((1, 64, 64, 3), 0.5, np.float32)
    for name in names_to_load or METHODS:
        try:
            method = get(name)
        except ModelUnavailable as error:
            logger.warning("Style-transfer method %s unavailable: %s", name, error)
            continue
        if method.queue == "default":
            method.stylize(tiny, [(tiny, 1.0)])


def reset():
    """Forget the loaded methods, what their checks found and their estimates (used by tests that switch settings)."""
    _estimates_by_name.clear()
    _checked.clear()
    _versions.clear()
    for name in list(_loaded) + list(_errors):
        with _locks.get(name, _fallback_lock):
            _loaded.pop(name, None)
            _errors.pop(name, None)


@dataclass
class MethodOffer:
    """A method as the upload page offers it: its declarations, whether it can run, and how long it takes."""

    name: str
    label: str
    description: str
    queue: str
    capabilities: object
    reasons: dict
    unavailable_reason: str = None
    #: ``{quality or "": [fixed seconds, seconds per megapixel, fewest seconds]}`` (``Method.estimate_fit``),
    #: for the page to estimate a photo's time.
    estimates: dict = field(default_factory=dict)


def offers():
    """Every method the site knows, with its availability (checked once per process, nothing loaded)."""
    found = []
    for name in names():
        try:
            method = method_class(name)
        except ModelUnavailable as error:
            found.append(MethodOffer(name, name, "", "default", Capabilities(), {}, str(error)))
            continue
        found.append(MethodOffer(name, method.label, method.description, method.queue, method.capabilities,
                                 method.reasons, unavailable_reason(name), _estimates(method)))
    return found


def _estimates(method):
    """The method's time model per quality (:meth:`Method.estimate_fit`), for the page's script.

    It depends only on the method's declarations, so each process works it out once per method.
    """
    if method.name not in _estimates_by_name:
        _estimates_by_name[method.name] = _fitted_estimates(method)
    return _estimates_by_name[method.name]


_estimates_by_name = {}


def _fitted_estimates(method):
    return {quality or "": list(method.estimate_fit(quality)) for quality in method.capabilities.qualities or (None,)}
