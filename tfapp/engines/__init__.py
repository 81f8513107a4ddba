"""The method registry: which style-transfer methods exist, and each one loaded once per process.

``method_class(name)`` gives a method's declaration (:mod:`tfapp.methods`: label,
queue, capabilities, estimate, the files it needs), which imports no
machine-learning library, so web processes tell visitors what runs without
TensorFlow, OpenVINO or LiteRT in memory. ``unavailable_reason(name)`` asks the
declaration's check (files present, settings valid): a method found available is
remembered; one found unavailable is looked at again on the next question, since
the check costs a few ``stat`` calls and a worker may fetch the files meanwhile.

``get(name)`` loads a method's engine (workers and the command line only) the first
time it is asked for in a process and returns the same instance afterwards, from
any thread; methods load independently, so a slow or failing one never holds up
another. A failure to load is remembered, so every page can say why a method is
unavailable. A trained style exported again (``train_style --force``) is loaded
again on its next use: what the process knew of the previous export is forgotten.
"""
import logging
import threading
import time
import dataclasses
from dataclasses import dataclass, field

import numpy as np
from django.utils.module_loading import import_string

from .. import trained_styles
from ..exceptions import ModelUnavailable
from ..methods.base import Capabilities

logger = logging.getLogger(__name__)

#: Every method's declaration, in the order the pages offer them (Magenta's depends on NST_ENGINE).
METHODS = {
    "magenta": "tfapp.methods.magenta.declared",
    "adain": "tfapp.methods.adain.Adain",
    "gatys": "tfapp.methods.gatys.Gatys",
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
    return list(METHODS) + [trained_styles.method_name(name) for name in trained_styles.published_names()]


def method_class(name):
    """The declaration of method ``name`` (see :mod:`tfapp.methods`), without loading it. Raises ModelUnavailable."""
    if style_name := trained_styles.style_name(name):
        from ..methods.trained import declared
        return declared(style_name)
    if name not in METHODS:
        raise ModelUnavailable(f"There is no style-transfer method called {name!r}; choose one of: "
                               f"{', '.join(METHODS)}.")
    declaration = import_string(METHODS[name])
    # Magenta's is chosen by a function of NST_ENGINE; the others are classes.
    return declaration if isinstance(declaration, type) else declaration()


#: How every page names a quality preset a method declares.
QUALITY_LABELS = {"draft": "Draft", "standard": "Standard", "fine": "Fine"}


def label(name, quality=""):
    """How every page names method ``name`` run at ``quality``: its declared label, then the quality.

    ("Gatys (slow, finest) · Draft"); a method that no longer exists is named by its identifier.
    """
    try:
        method_label = method_class(name).label
    except ModelUnavailable:
        method_label = name
    return f"{method_label} · {QUALITY_LABELS.get(quality, quality)}" if quality else method_label


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
    method = method_class(name).engine_class()()
    load_count += 1
    logger.info("Loaded the %s method (%s) in %.1f s.", name, method.engine, time.perf_counter() - started)
    return method


def _forget_if_replaced(name):
    """Forget the loaded method ``name``, its check and its error if its files were replaced since.

    Only a trained style's are: an export renames a whole new folder into place, so the
    folder's identity tells one export from the next at the cost of one ``stat``.
    """
    style_name = trained_styles.style_name(name)
    if not style_name:
        return
    version = trained_styles.version(style_name)
    if _versions.get(name) != version:
        with _fallback_lock:
            if _versions.get(name) != version:
                _loaded.pop(name, None)
                _errors.pop(name, None)
                _checked.discard(name)
                _versions[name] = version


def unavailable_reason(name=DEFAULT_METHOD):
    """Why method ``name`` cannot be used, or ``None`` when it can, found without loading it.

    A method found available is not checked again in this process; one found
    unavailable is, at the next question. A failure to load since (a damaged file)
    is remembered and given instead.
    """
    _forget_if_replaced(name)
    if name in _errors:
        return str(_errors[name])
    if name in _loaded or name in _checked:
        return None
    try:
        method_class(name).check_available()
    except ModelUnavailable as error:
        return str(error)
    _checked.add(name)
    return None


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
    strength_help: str = ""


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
                                 method.reasons, unavailable_reason(name), _estimates(method), method.strength_help))
    return found


def page_data(offered):
    """What the upload page's script needs to switch controls and estimate times, per offered method (JSON data)."""
    return {offer.name: {"capabilities": dataclasses.asdict(offer.capabilities), "reasons": offer.reasons,
                         "estimates": offer.estimates, "available": not offer.unavailable_reason,
                         "strength_help": offer.strength_help}
            for offer in offered}


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
