"""The two runtimes that run networks stored as TensorFlow Lite flatbuffers, and one of them TensorFlow's.

* ``openvino``: OpenVINO's CPU plugin, which reads ``.tflite`` files directly and
  fuses the whole graph (padding, convolutions, instance norms) into its own
  kernels. It is the default where installed: on two cores it runs Magenta's
  transfer network about twice as fast as LiteRT, with the same output to 1e-5
  (docs/engines.md, ``bench/runtimes.py``). On CPUs with native BF16 instructions
  (AVX-512 BF16 or AMX) it runs in bfloat16 by default (``NST_PRECISION=auto``), as
  OpenVINO itself does, about twice as fast again; ``NST_PRECISION=f32`` gives
  float32 output (AdaIN then computes its widest convolutions by Winograd's algorithm,
  equal up to rounding: :mod:`tfapp.engines.winograd`).
* ``litert``: Google's LiteRT interpreter (XNNPACK), the reference.

Both are used the same way: :meth:`Runtime.network` takes the flatbuffer's bytes
and returns a :class:`Network`, called with a dict of named ``float32`` inputs.
A network fixes its input shapes on the first call and rebuilds itself only
when they change, so callers cache one network per input size.

OpenVINO also converts TensorFlow networks (:meth:`OpenVinoRuntime.convert`), which
:mod:`tfapp.engines.converted` uses for AdaIN and the trained styles; LiteRT reads
only flatbuffers (:attr:`Runtime.converts_tensorflow`).
"""
import logging
import tempfile

import numpy as np

from .. import conf
from ..runtime_choice import (
    check_names,
    default_runtime,
    installed_or_other,
    is_installed,
    native_bf16,
    resolved_precision,
)

logger = logging.getLogger(__name__)

def choose(name, precision, threads):
    """The runtime to use for the settings ``name`` and ``precision``, falling back where they cannot be met.

    An empty ``name`` means :func:`default_runtime`; ``auto`` precision, see
    :func:`resolved_precision`. A runtime that is not installed falls back to the
    other one, and ``bf16`` to ``f32`` on a CPU without native bfloat16 (or on
    LiteRT); each fallback is logged, and the runtime's :attr:`~Runtime.label` says
    what actually runs. Raises ModelUnavailable for values that name no runtime or precision.
    """
    name = name or default_runtime()
    check_names(name, precision)
    if not is_installed(name):
        logger.warning("NST_RUNTIME is %s, which is not installed; using %s instead.", name, installed_or_other(name))
        name = installed_or_other(name)
    precision = resolved_precision(precision, name, name == "openvino" and native_bf16())
    if precision == "bf16" and not (name == "openvino" and native_bf16()):
        logger.warning("NST_PRECISION is bf16, but %s cannot run bfloat16 natively here; using f32.", name)
        precision = "f32"
    if name == "openvino":
        return OpenVinoRuntime(threads, precision)
    return LiteRtRuntime(threads)


def configured():
    """The runtime NST_RUNTIME, NST_PRECISION and NST_ENGINE_THREADS ask for: the one every engine uses."""
    return choose(conf.runtime(), conf.precision(), conf.engine_threads())


class ConversionError(Exception):
    """OpenVINO's converter could not translate a TensorFlow network."""


class Runtime:
    """Builds :class:`Network` objects from flatbuffers."""

    #: ``openvino`` or ``litert``.
    name = ""

    #: The runtime's own name, for people.
    display_name = ""

    #: Memory a built transfer network holds per content pixel, in bytes (measured at 512-1536 px).
    bytes_per_pixel = 0

    #: Whether :meth:`network` accepts ``shared_statistics``: instance norms fed
    #: from outside, so tiles of one image can share the whole image's statistics.
    shares_statistics = False

    #: Whether :meth:`convert` takes TensorFlow networks (SavedModel folders, concrete functions).
    converts_tensorflow = False

    def __init__(self, threads, precision="f32"):
        self.threads = threads
        self.precision = precision

    @property
    def label(self):
        """What runs the networks, for people: e.g. ``OpenVINO, f32``."""
        return f"{self.display_name}, {self.precision}"

    def network(self, flatbuffer):
        """A :class:`Network` running the flatbuffer's bytes. Raises ValueError or RuntimeError if unreadable."""
        raise NotImplementedError


class Network:
    """One network, built for the input shapes of its latest call. Not thread-safe."""

    def __call__(self, inputs):
        """Run on ``inputs`` (input name -> ``float32`` array); returns the list of outputs."""
        raise NotImplementedError


class LiteRtRuntime(Runtime):
    name = "litert"
    display_name = "LiteRT"
    bytes_per_pixel = 1700

    def network(self, flatbuffer):
        return LiteRtNetwork(flatbuffer, self.threads)


class LiteRtNetwork(Network):
    def __init__(self, flatbuffer, threads):
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_content=bytes(flatbuffer), num_threads=threads)
        self._inputs = {detail["name"]: detail["index"] for detail in self._interpreter.get_input_details()}
        self._outputs = [detail["index"] for detail in self._interpreter.get_output_details()]
        self._shapes = None

    def __call__(self, inputs):
        shapes = {name: array.shape for name, array in inputs.items()}
        if shapes != self._shapes:
            for name, shape in shapes.items():
                self._interpreter.resize_tensor_input(self._inputs[name], list(shape))
            self._interpreter.allocate_tensors()
            self._shapes = shapes
        for name, array in inputs.items():
            self._interpreter.set_tensor(self._inputs[name], np.ascontiguousarray(array, np.float32))
        self._interpreter.invoke()
        return [self._interpreter.get_tensor(index) for index in self._outputs]


_core = None


def _openvino_core():
    """The process's one ``openvino.Core``; it owns the CPU plugin and its thread pool."""
    global _core
    if _core is None:
        import openvino

        _core = openvino.Core()
    return _core


class OpenVinoRuntime(Runtime):
    name = "openvino"
    display_name = "OpenVINO"
    bytes_per_pixel = 300
    shares_statistics = True
    converts_tensorflow = True

    def __init__(self, threads, precision="f32"):
        super().__init__(threads, precision)
        self._config = {
            "INFERENCE_NUM_THREADS": threads,
            "NUM_STREAMS": 1,
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_PRECISION_HINT": precision,
        }

    def network(self, flatbuffer, shared_statistics=None):
        """As :meth:`Runtime.network`; see :mod:`tfapp.engines.norm_statistics` for ``shared_statistics``.

        ``shared_statistics="read"`` adds every instance norm's mean and variance as
        outputs after the network's own; ``"fed"`` makes them inputs, named
        ``statistic_0``, ``statistic_1``, ... in the order ``"read"`` returns them.
        """
        from . import norm_statistics

        model = self.read(flatbuffer)
        if shared_statistics == "read":
            model = norm_statistics.with_statistics_outputs(model)
        elif shared_statistics == "fed":
            model = norm_statistics.with_statistics_inputs(model)
        return OpenVinoNetwork(model, self._config)

    def convert(self, source):
        """The ``openvino.Model`` of a TensorFlow SavedModel folder (a path) or concrete function.

        Dimensions the source leaves open (``None``) stay open: each :meth:`compiled`
        copy fixes them on its first call. Raises ConversionError where the converter fails.
        """
        import openvino
        from openvino import frontend
        from openvino.tools.ovc.error import Error as ArgumentError

        try:
            return openvino.convert_model(source)
        except (ArgumentError, frontend.GeneralFailure, frontend.InitializationFailure, frontend.NotImplementedFailure,
                frontend.OpConversionFailure, frontend.OpValidationFailure, RuntimeError, ValueError) as error:
            # The converter's messages run to pages of graph dumps; the first line names the problem.
            raise ConversionError((str(error).strip().splitlines() or [type(error).__name__])[0]) from error

    def compiled(self, model):
        """A :class:`Network` of its own for a converted ``model``, compiled for the input shapes of its first call."""
        return OpenVinoNetwork(model.clone(), self._config)

    def read(self, flatbuffer):
        """The ``openvino.Model`` of a flatbuffer's bytes. Raises RuntimeError if they are no model."""
        # OpenVINO's TFLite reader takes only a file name, not bytes.
        with tempfile.NamedTemporaryFile(suffix=".tflite") as file:
            file.write(flatbuffer)
            file.flush()
            return _openvino_core().read_model(file.name)


class OpenVinoNetwork(Network):
    def __init__(self, model, config):
        self._model = model
        self._config = config
        self._compiled = None
        self._request = None
        self._shapes = None

    def __call__(self, inputs):
        shapes = {name: array.shape for name, array in inputs.items()}
        if shapes != self._shapes:
            self._model.reshape({name: list(shape) for name, shape in shapes.items()})
            self._compiled = _openvino_core().compile_model(self._model, "CPU", self._config)
            self._request = self._compiled.create_infer_request()
            self._shapes = shapes
        feed = {name: np.ascontiguousarray(array, np.float32) for name, array in inputs.items()}
        results = self._request.infer(feed)
        # The request reuses its output buffers on the next call, so hand out copies.
        return [np.array(results[output]) for output in self._compiled.outputs]
