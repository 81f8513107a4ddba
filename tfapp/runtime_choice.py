"""Which runtime and precision the networks run in, decided from the settings and the host.

Read by the method declarations (availability, time estimates) and ``manage.py check``
without importing either runtime; :mod:`tfapp.engines.runtimes` builds the runtime
these choices name.
"""
import importlib.util

from . import conf, host
from .exceptions import ModelUnavailable

RUNTIMES = ("openvino", "litert")
PRECISIONS = ("auto", "f32", "bf16")


def is_installed(name):
    """Whether the Python package of runtime ``name`` can be imported."""
    package = {"openvino": "openvino", "litert": "ai_edge_litert"}[name]
    return importlib.util.find_spec(package) is not None


def default_runtime():
    """The fastest installed runtime whose output matches LiteRT's within 1e-4: OpenVINO, else LiteRT."""
    return "openvino" if is_installed("openvino") else "litert"


def native_bf16():
    """Whether OpenVINO can run bfloat16 natively here: installed, on a CPU with AVX-512 BF16 or AMX.

    Read from the CPU's flags rather than OpenVINO's ``OPTIMIZATION_CAPABILITIES``,
    which may list BF16 where it is only emulated.
    """
    return is_installed("openvino") and host.has_native_bf16()


def resolved_precision(precision, runtime_name, native):
    """The precision ``auto`` stands for: ``bf16`` on OpenVINO where the CPU has ``native`` bfloat16, else ``f32``.

    ``f32`` and ``bf16`` stand for themselves (``choose`` falls back from ``bf16`` where it cannot run).
    """
    if precision != "auto":
        return precision
    return "bf16" if runtime_name == "openvino" and native else "f32"


def check_names(name, precision):
    """Raise ModelUnavailable where ``name`` is no runtime or ``precision`` no precision."""
    if name not in RUNTIMES:
        raise ModelUnavailable(f"NST_RUNTIME is {name!r}; it must be one of: {', '.join(RUNTIMES)}.")
    if precision not in PRECISIONS:
        raise ModelUnavailable(f"NST_PRECISION is {precision!r}; it must be one of: {', '.join(PRECISIONS)}.")


def check_settings():
    """Raise ModelUnavailable where NST_RUNTIME or NST_PRECISION names nothing, without building a runtime."""
    check_names(conf.runtime() or default_runtime(), conf.precision())


def configured_precision():
    """The precision :func:`configured` computes in, found without building it or logging (for estimates)."""
    native = configured_name() == "openvino" and native_bf16()
    return "bf16" if native and conf.precision() in ("auto", "bf16") else "f32"


def tensorflow_precision():
    """What Gatys's VGG-19 on TensorFlow computes in: ``bf16`` only when ``NST_PRECISION`` is ``bf16`` on a CPU
    with native bfloat16, else ``f32``.

    ``auto`` stays f32 here: bf16 is 2.1-2.6x as fast at the standard quality, but moved
    one of three pairs' content loss by 29 % (``bench/gatys.py --bf16``), beyond the 2 %
    that would make it the default. Emulated bfloat16 would only be slower.
    """
    return "bf16" if conf.precision() == "bf16" and host.has_native_bf16() else "f32"


def configured_name():
    """The name of the runtime :func:`configured` runs, found without building it or logging (for estimates)."""
    return installed_or_other(conf.runtime() or default_runtime())


def installed_or_other(name):
    """``name`` where it is installed (or names no runtime), otherwise the other runtime."""
    if name not in RUNTIMES or is_installed(name):
        return name
    return next(other for other in RUNTIMES if other != name)
