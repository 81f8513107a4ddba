"""TensorFlow networks run by OpenVINO where it is the process's runtime.

AdaIN's encoder and decoder and the published trained styles are TensorFlow
networks. Where :func:`runtimes.configured` is OpenVINO, each is converted once, at
load, by OpenVINO's converter with its height and width left open, then compiled
for each input size it meets, and the compiled model is kept for that size.
OpenVINO fuses each graph into its own CPU kernels: on two cores an AdaIN transfer
takes about a quarter less time than in TensorFlow and a trained style half (docs/engines.md,
``bench/adain.py``, ``bench/trained_styles.py``), with the same output to within 1e-4.
LiteRT runs only TFLite flatbuffers, and these graphs are none, so with
``NST_RUNTIME=litert`` (or where OpenVINO is not installed, or cannot convert a graph)
TensorFlow runs them, as the reference.

A compiled model keeps its activations allocated for its size and its own copy of
the weights, so each network's cache is bounded by memory: it keeps at most
:data:`CACHE_SIZES` sizes, and only as many of the most recent as are estimated at
most :data:`CACHE_BYTES` together; a size above that alone is compiled for its call
and dropped after it.
"""
import logging
import threading
from collections import OrderedDict

from . import runtimes

logger = logging.getLogger(__name__)

#: Sizes one network keeps compiled, least recently used dropped first.
CACHE_SIZES = 8

#: Estimated bytes one network's compiled sizes may hold together between calls.
CACHE_BYTES = 1_250_000_000

#: What a compiled model holds whatever its size: its weights in OpenVINO's layout and
#: its plan (measured 15-61 MB for AdaIN's encoder and decoder and a trained style).
COMPILED_BYTES = 60_000_000


def network(tensorflow_call, source, runtime, bytes_per_position):
    """``tensorflow_call`` run by TensorFlow, or the same network on ``runtime`` where that converts TensorFlow's.

    ``tensorflow_call`` maps a ``float32`` array ``[1, H, W, C]`` to the network's
    output as a NumPy array; ``source`` is that network for OpenVINO's converter (a
    SavedModel folder or a concrete function, H and W open). ``bytes_per_position``
    is what a compiled model's activations take per position (H x W) of its input.
    Either way the result is callable like ``tensorflow_call`` and says what runs it
    in ``runs_on``.
    """
    if not runtime.converts_tensorflow:
        return TensorFlowNetwork(tensorflow_call)
    try:
        model = runtime.convert(source)
    except runtimes.ConversionError as error:
        logger.warning("%s could not convert a network (%s); TensorFlow runs it.", runtime.display_name, error)
        return TensorFlowNetwork(tensorflow_call)
    return SizedNetwork(model, runtime, bytes_per_position)


class TensorFlowNetwork:
    """The network as TensorFlow runs it."""

    runs_on = "TensorFlow"

    def __init__(self, call):
        self._call = call

    def __call__(self, inputs):
        return self._call(inputs)


class SizedNetwork:
    """A converted network, compiled for each input size it is called with. Thread-safe."""

    def __init__(self, model, runtime, bytes_per_position):
        self.runs_on = runtime.label
        self._model = model
        self._runtime = runtime
        self._input = model.inputs[0].get_any_name()
        self._bytes_per_position = bytes_per_position
        self._compiled = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, inputs):
        """``float32`` ``[1, H, W, C]`` (a NumPy array or tensor) -> the network's first output, a NumPy array."""
        with self._lock:
            outputs = self._compiled_for(tuple(inputs.shape))({self._input: inputs})
            if self._over_limits():
                self._compiled.clear()  # a size too large to keep even alone is compiled for each call
            return outputs[0]

    @property
    def compiled_shapes(self):
        """The input shapes compiled models are kept for, least recently used first."""
        return list(self._compiled)

    def _compiled_for(self, shape):
        compiled = self._compiled.pop(shape, None) or self._runtime.compiled(self._model)
        self._compiled[shape] = compiled
        while len(self._compiled) > 1 and self._over_limits():
            self._compiled.popitem(last=False)
        return compiled

    def _over_limits(self):
        positions = sum(shape[1] * shape[2] for shape in self._compiled)
        held = len(self._compiled) * COMPILED_BYTES + positions * self._bytes_per_position
        return len(self._compiled) > CACHE_SIZES or held > CACHE_BYTES
