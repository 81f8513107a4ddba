"""Magenta's two-stage arbitrary style transfer network as TensorFlow Lite files.

Stage 1, the style prediction network, turns a style image into a 100-number
*style vector*; stage 2, the style transfer network, repaints a content image
given that vector (Ghiasi et al. 2017, "Exploring the structure of a real-time,
arbitrary neural artistic stylization network").

The fp16 transfer file is fully convolutional except for the output sizes of
its three nearest-neighbour upsampling steps, which the converter froze as
constants for a 384x384 input. We rewrite those three constants for each content
size before building the interpreter, so the network runs at the content's own
size with its fp16 weights, instead of the slower dynamic-range int8 file
(measured in docs/engines.md and ``bench/lite_engines.py``).
"""
import threading
from collections import OrderedDict

import numpy as np
from ai_edge_litert import schema_py_generated as schema

from .. import conf, tiling
from ..exceptions import ModelUnavailable
from ..methods.magenta import PREDICT_FILE, STYLE_VECTOR_SHAPE, TRANSFER_FILE, Lite, MagentaMethod, check_lite_files
from . import runtimes

# The reflection padding of the first 9x9 convolution and the two stride-2 steps
# need a few pixels to work on; smaller images are mirrored up to this and cropped.
MIN_SIDE = 16

# Transfer networks built for distinct content sizes, least recently used dropped first.
INTERPRETER_CACHE_SIZE = 8

# Each cached network keeps its activations allocated, about
# ``runtime.bytes_per_pixel`` per content pixel, so the cache is bounded by memory
# too: beside the network in use, older ones stay only while all together need at
# most this many bytes (1.5 million pixels on LiteRT, 8 million on OpenVINO).
INTERPRETER_CACHE_BYTES = 2_500_000_000

CONTENT_INPUT = "content_image"
VECTOR_INPUT = "mobilenet_conv/Conv/BiasAdd"
STYLE_INPUT = "style_image"


def _half(length):
    """Size after one stride-2 convolution with 'SAME'-like reflection padding."""
    return -(-length // 2)


class LiteEngine(Lite):
    """Magenta's TFLite networks, run by the runtime ``NST_RUNTIME`` names (see :mod:`.runtimes`).

    The style predictor always runs on LiteRT: it is an int8 network, which
    OpenVINO computes differently (style vectors differ by up to 0.5 of about 2.4)
    and no faster (7 ms at 256x256), and stored preset vectors come from LiteRT.
    """

    def __init__(self, model_dir=None, runtime=None):
        model_dir = model_dir or conf.lite_model_dir()
        check_lite_files(model_dir)
        threads = conf.engine_threads()
        self.runtime = runtime or runtimes.configured()
        self.tiling_runtime = _tiling_runtime(self.runtime, threads)
        self.label = f"{MagentaMethod.label}: TFLite on {self.runtime.label}"
        self._lock = threading.Lock()
        try:
            self._predictor = runtimes.LiteRtRuntime(threads).network((model_dir / PREDICT_FILE).read_bytes())
            self._transfer_model = TransferModel((model_dir / TRANSFER_FILE).read_bytes())
        except (ValueError, RuntimeError, OSError) as error:
            raise ModelUnavailable(f"The TFLite model in {model_dir} could not be loaded: {error}") from error
        self._networks = OrderedDict()

    def stylize(self, content, styles, strength=1.0, quality=None, tile_size=None, progress=None,
                content_style=None):
        """See :meth:`Method.stylize`. Styles are mixed as style vectors (images are predicted first).

        Strength is Magenta's identity interpolation: the content's own style vector
        (of ``content_style``) pulls the result back towards the photo as it falls.
        """
        style_vector = sum(weight * self._vector(style) for style, weight in styles)
        if strength < 1:
            style_vector = strength * style_vector + (1.0 - strength) * self.style_vector(content_style)
        return self.transfer(content, style_vector.astype(np.float32), tile_size)

    def _vector(self, style):
        """A stored vector as it is; a style image through the style prediction network."""
        return style if style.shape == STYLE_VECTOR_SHAPE else self.style_vector(style)

    def style_vector(self, style):
        """``[1, h, w, 3]`` style image in ``[0, 1]`` -> ``float32`` style vector ``[1, 1, 1, 100]``."""
        with self._lock:
            return self._predictor({STYLE_INPUT: style})[0]

    def transfer(self, content, style_vector, tile_size=None):
        """``[1, H, W, 3]`` content + ``[1, 1, 1, 100]`` style vector -> ``[1, H, W, 3]`` in ``[0, 1]``.

        Content whose long side exceeds ``tile_size`` (default
        :data:`tiling.DEFAULT_TILE_SIZE`) is stylized in overlapping tiles of at most
        that side, which bounds the network's memory; see :mod:`tfapp.tiling`. Every
        tile is normalised with the instance-norm statistics of the whole image, seen
        downscaled to :data:`tiling.STATISTICS_SIZE`, so tiles agree with each other
        and a tiled result looks the same whichever runtime was chosen: tiles run on
        :attr:`tiling_runtime` (OpenVINO), since LiteRT cannot be fed statistics. Only
        where OpenVINO is not installed does each tile use its own.
        """
        tile_size = tile_size or tiling.DEFAULT_TILE_SIZE
        if max(content.shape[1:3]) <= tile_size:
            return self._run("whole", content, {VECTOR_INPUT: style_vector})
        inputs = {VECTOR_INPUT: style_vector}
        kind = "whole"
        if self.tiling_runtime is not None:
            inputs.update(self._statistics(tiling.downscaled(content, tiling.STATISTICS_SIZE), style_vector))
            kind = "fed"
        return tiling.stylize_in_tiles(content, lambda tile: self._run(kind, tile, inputs), tile_size)

    def _statistics(self, content, style_vector):
        """The whole-image instance-norm statistics of ``content``, as inputs of a ``fed`` network."""
        statistics = self._run("read", content, {VECTOR_INPUT: style_vector}, all_outputs=True)[1:]
        return {f"statistic_{index}": statistic for index, statistic in enumerate(statistics)}

    def _run(self, kind, content, inputs, all_outputs=False):
        """Run the ``kind`` of transfer network (see ``OpenVinoRuntime.network``) at the content's size."""
        height, width = content.shape[1:3]
        padded = np.pad(
            content,
            ((0, 0), (0, max(0, MIN_SIDE - height)), (0, max(0, MIN_SIDE - width)), (0, 0)),
            mode="symmetric",
        )
        with self._lock:
            outputs = self._network_for(kind, padded.shape[1:3])({CONTENT_INPUT: padded, **inputs})
        if all_outputs:
            return outputs
        return np.clip(outputs[0][:, :height, :width], 0.0, 1.0)

    def _network_for(self, kind, size):
        key = (kind, size)
        network = self._networks.pop(key, None)
        if network is None:
            flatbuffer = self._transfer_model.for_size(*size)
            if kind == "whole":
                network = self.runtime.network(flatbuffer)
            else:
                network = self.tiling_runtime.network(flatbuffer, shared_statistics=kind)
        self._networks[key] = network
        while len(self._networks) > 1 and self._over_cache_limits():
            self._networks.popitem(last=False)
        return network

    def _over_cache_limits(self):
        pixels = sum(height * width for _, (height, width) in self._networks)
        return (len(self._networks) > INTERPRETER_CACHE_SIZE
                or pixels * self.runtime.bytes_per_pixel > INTERPRETER_CACHE_BYTES)


def _tiling_runtime(runtime, threads):
    """The runtime that runs tiles with shared statistics: ``runtime`` where it can, else OpenVINO in f32, else None.

    f32 because a LiteRT user asked for the reference output, which f32 OpenVINO
    matches to 1e-4 (bf16 would not).
    """
    if runtime.shares_statistics:
        return runtime
    if runtimes.is_installed(runtimes.OpenVinoRuntime.name):
        return runtimes.OpenVinoRuntime(threads, "f32")
    return None


class TransferModel:
    """The transfer network's flatbuffer, with its upsampling sizes rewritable per content size."""

    def __init__(self, flatbuffer):
        self._flatbuffer = bytearray(flatbuffer)
        self._sizes = _resize_size_buffers(self._flatbuffer)
        if len(self._sizes) != 3:
            raise ValueError(f"expected 3 upsampling steps, found {len(self._sizes)}")

    def for_size(self, height, width):
        """Model bytes whose output is ``height`` x ``width``, for a content image of that size."""
        # The decoder mirrors the encoder: upsample to the size after the first stride-2
        # step, then to the full size; the last "upsampling" is a stride-1 identity step.
        targets = [(_half(height), _half(width)), (height, width), (height, width)]
        for buffer, target in zip(self._sizes, targets):
            buffer[:] = np.asarray(target, dtype="<i4").view(np.uint8)
        return bytes(self._flatbuffer)


def _resize_size_buffers(flatbuffer):
    """Writable views of the constant ``size`` inputs of each RESIZE_NEAREST_NEIGHBOR op."""
    model = schema.Model.GetRootAs(flatbuffer, 0)
    graph = model.Subgraphs(0)
    resize = schema.BuiltinOperator.RESIZE_NEAREST_NEIGHBOR
    views = []
    for index in range(graph.OperatorsLength()):
        operator = graph.Operators(index)
        code = model.OperatorCodes(operator.OpcodeIndex())
        if max(code.BuiltinCode(), code.DeprecatedBuiltinCode()) == resize:
            tensor = graph.Tensors(operator.Inputs(1))
            views.append(model.Buffers(tensor.Buffer()).DataAsNumpy())
    return views
