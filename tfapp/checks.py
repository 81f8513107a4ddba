"""System checks: warn, on every ``manage.py`` command, when a method's model cannot be found.

They only look at settings and files. Loading TensorFlow or the model, or asking
the network, would slow down every command, ``migrate`` and ``check`` included.
"""
from django.core.checks import Warning, register

from . import conf, runtime_choice
from .exceptions import ModelUnavailable
from .methods import adain, gatys, magenta

#: The package that installs each runtime.
RUNTIME_PACKAGES = {"openvino": "openvino", "litert": "ai-edge-litert"}

@register()
def check_model(app_configs, **kwargs):
    """Warn when NST_ENGINE is unknown, or when what Magenta's implementation needs is missing (its declaration says)."""
    try:
        declaration = magenta.declared()
    except ModelUnavailable:
        engine = conf.engine_name()
        return [Warning(f"NST_ENGINE is {engine!r}, which is not an engine of the magenta method.",
                        hint=f"Set NST_ENGINE to one of: {', '.join(sorted(magenta.ENGINES))}.", id="tfapp.W001")]
    return declaration.system_checks()


@register()
def check_method_weights(app_configs, **kwargs):
    """Warn, per method, when what AdaIN or Gatys needs is missing (each declaration says what and how to fix it)."""
    return adain.Adain.system_checks() + gatys.Gatys.system_checks()


#: What NST_RUNTIME and NST_PRECISION choose the runtime of.
RUNTIME_USERS = "the lite engine, AdaIN and trained styles"


@register()
def check_runtime(app_configs, **kwargs):
    """Warn when NST_RUNTIME or NST_PRECISION names something this machine cannot run.

    The networks that run on it (Magenta's lite engine, AdaIN, trained styles) then
    fall back (to the other runtime, or to f32) rather than fail, so these are
    warnings that the setting has no effect, with what to do.
    """
    name, precision = conf.runtime(), conf.precision()
    if name and name not in runtime_choice.RUNTIMES:
        return [Warning(f"NST_RUNTIME is {name!r}, which is not a runtime; {RUNTIME_USERS} will not load.",
                        hint=f"Set NST_RUNTIME to one of: {', '.join(runtime_choice.RUNTIMES)}, or leave it empty.",
                        id="tfapp.W011")]
    if precision not in runtime_choice.PRECISIONS:
        return [Warning(f"NST_PRECISION is {precision!r}, which is not a precision; {RUNTIME_USERS} will not load.",
                        hint=f"Set NST_PRECISION to one of: {', '.join(runtime_choice.PRECISIONS)}.", id="tfapp.W012")]
    if name and not runtime_choice.is_installed(name):
        fallback = runtime_choice.default_runtime()
        # LiteRT runs only flatbuffers; AdaIN's and trained styles' graphs then stay on TensorFlow.
        others = "AdaIN and trained styles TensorFlow" if fallback == "litert" else "so do AdaIN and trained styles"
        return [Warning(f"NST_RUNTIME is {name}, which is not installed; the lite engine uses {fallback} instead, "
                        f"{others}.",
                        hint=f"Install it with `pip install {RUNTIME_PACKAGES[name]}` (./run does), "
                             "or leave NST_RUNTIME empty.", id="tfapp.W013")]
    if precision == "bf16" and not runtime_choice.native_bf16():
        return [Warning("NST_PRECISION is bf16, but this CPU has no native bfloat16 arithmetic (or OpenVINO is "
                        "missing); the networks compute in f32 instead.",
                        hint="Set NST_PRECISION=f32 (or auto, which picks bf16 only where it is native), or run on "
                             "a CPU with AVX-512 BF16 or AMX and OpenVINO.",
                        id="tfapp.W014")]
    return []
