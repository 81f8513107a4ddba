"""AdaIN: arbitrary style transfer by adaptive instance normalisation (Huang & Belongie 2017).

The encoder, the normalised VGG-19 up to ``relu4_1``, turns the photo and the
painting into feature maps; AdaIN gives the photo's features the painting's
per-channel mean and standard deviation; a decoder trained for it turns them
back into an image. One forward pass, no optimisation.

The weights are two frozen graphs with 8-bit weights. The graphs run their
``Dequantize`` ops on every call, so we run them once, at load, and keep the
float32 results: the encoder becomes :class:`~tfapp.engines.vgg.VGG19` and the
decoder a few convolutions, both traced once as ``tf.function``. Their output
equals the graphs' (within 5e-6 of the features, 5e-5 of the 0..255 image) and
takes less time (measured in docs/engines.md). The graph's AdaIN has its alpha baked
in as 1, so AdaIN is done here, where strength and blending need it.

Where the process's runtime is OpenVINO (``NST_RUNTIME``), the two functions are
converted for it at load and run there, in about a quarter less time, with the same
output to within 1e-4; see :mod:`tfapp.engines.converted`. Otherwise TensorFlow runs
them. On OpenVINO in float32 the widest convolutions (blocks 3 and 4, on both sides)
run by Winograd's F(4x4, 3x3) (:mod:`tfapp.engines.winograd`), which does a quarter of
their arithmetic: a 512x512 transfer takes 0.90 s instead of 1.30 s on two AVX-512
cores, with output equal up to rounding (5e-5), for about twice the activation memory,
3 s more to load and 0.5 s (512 px) to 1.5 s (1024 px) more to compile each new size.
"""
import numpy as np
import tensorflow as tf
from google.protobuf.message import DecodeError

from .. import conf, tiling
from ..exceptions import ModelUnavailable
from ..methods.adain import DECODER_FILE, DEFAULT_TILE_SIZE, ENCODER_FILE, FEATURE_CHANNELS, Adain, check_files
from . import converted, runtimes, vgg
from . import winograd as winograd_convolution
from .tf_threads import use_engine_threads

#: The encoder graph's convolutions and the names :mod:`tfapp.engines.vgg` gives them.
ENCODER_LAYERS = {
    "block1_conv1": "conv1_1", "block1_conv2": "conv1_2", "block2_conv1": "conv2_1", "block2_conv2": "conv2_2",
    "block3_conv1": "conv3_1", "block3_conv2": "conv3_2", "block3_conv3": "conv3_3", "block3_conv4": "conv3_4",
    "output": "conv4_1",
}

#: The decoder graph's convolutions in order; the last has no ReLU.
DECODER_LAYERS = (
    "block4_conv1_decode", "block3_conv1_decode", "block3_conv2_decode", "block3_conv3_decode",
    "block3_conv4_decode", "block2_conv1_decode", "block2_conv2_decode", "block1_conv1_decode",
    "block1_conv2_decode",
)
#: Convolutions followed by a 2x nearest-neighbour upsampling.
UPSAMPLED_AFTER = {"block4_conv1_decode", "block3_conv4_decode", "block2_conv2_decode"}

#: The decoder graph's constant added to the content's variance, read at load.
EPSILON_NODE = "ada_in/batchnorm/add/y"

# The encoder pools three times, so the decoder returns sides that are multiples of 8;
# the content is mirrored up to that and cropped back. Its relu4_1 map must be at
# least 2 px a side for the decoder's first reflection padding.
DOWNSAMPLING = 8
MIN_SIDE = 2 * DOWNSAMPLING


#: What a compiled OpenVINO model's activations take per pixel of its input image (the
#: encoder) or of the image it decodes, by whether it computes by Winograd's algorithm:
#: measured 549-740 bytes for the encoder and 492-619 for the decoder with direct
#: convolutions; with Winograd's 907 and 1042 at 1024 px, where the cache's bound decides
#: whether a 1024x1024 piece stays compiled, and 1210 and 1223 at 512 px.
BYTES_PER_PIXEL = {False: 750, True: 1100}

_IMAGES = tf.TensorSpec([1, None, None, 3], tf.float32)
_FEATURES = tf.TensorSpec([1, None, None, FEATURE_CHANNELS], tf.float32)
_REFLECT_ONE = [[0, 0], [1, 1], [1, 1], [0, 0]]


class AdainMethod(Adain):
    """AdaIN's encoder and decoder, on OpenVINO or TensorFlow."""

    def __init__(self, model_dir=None, runtime=None, winograd=None):
        """``winograd``: whether the wide convolutions run by Winograd's algorithm; by default
        where OpenVINO runs the networks in float32 (where it is faster; see the module's docstring)."""
        model_dir = model_dir or conf.adain_model_dir()
        check_files(model_dir)
        use_engine_threads()
        runtime = runtime or runtimes.configured()
        if winograd is None:
            winograd = runtime.converts_tensorflow and runtime.precision == "f32"
        #: Whether the wide convolutions run by Winograd's algorithm.
        self.winograd = winograd
        try:
            encoder = vgg.VGG19.from_arrays(encoder_arrays(model_dir), winograd=winograd)
            decoder_weights, self._epsilon = decoder_arrays(model_dir)
        except (OSError, ValueError, KeyError, DecodeError, tf.errors.OpError) as error:
            raise ModelUnavailable(
                f"The AdaIN model in {model_dir} could not be read ({error}). Run "
                "`python manage.py download_models --engine adain` to fetch it again."
            ) from error
        encode = tf.function(lambda images: encoder.features(images, (vgg.CONTENT_LAYER,))[vgg.CONTENT_LAYER],
                             input_signature=[_IMAGES])
        decode = tf.function(Decoder(decoder_weights, winograd=winograd), input_signature=[_FEATURES])
        self._encode = converted.network(lambda images: encode(images).numpy(), encode.get_concrete_function(),
                                         runtime, BYTES_PER_PIXEL[winograd])
        self._decode = converted.network(lambda features: decode(features).numpy(), decode.get_concrete_function(),
                                         runtime, BYTES_PER_PIXEL[winograd] * DOWNSAMPLING ** 2)
        self.label = f"{Adain.label} on {self._encode.runs_on}"

    def stylize(self, content, styles, strength=1.0, quality=None, tile_size=None, progress=None,
                content_style=None, regions=None):
        """AdaIN of ``content`` towards the weighted blend of ``styles``; see :meth:`Method.stylize`.

        ``strength`` is the paper's alpha: 0 decodes the photo's own features, 1 the
        full AdaIN target. Blending mixes the AdaIN targets by weight, which mixes the
        styles' feature means and standard deviations. Content whose long side
        exceeds ``tile_size`` runs in tiles normalised by one set of statistics, those
        of the whole photo's features, so the tiles agree with each other and with a
        one-piece run.

        With ``regions`` each region's features are aligned by AdaIN with the region's
        own statistics (means and deviations weighted by its feathered share) towards
        its style's, those of a kept region left as they are; the aligned features are
        recombined by the shares and decoded once. Tiles then share each region's
        statistics over the whole photo.
        """
        tile_size = tile_size or DEFAULT_TILE_SIZE
        if regions is not None:
            return self._stylize_regions(content, styles, strength, tile_size, progress, regions)
        target = self._style_statistics(styles)
        if max(content.shape[1:3]) <= tile_size:
            return self._stylize_piece(content, target, strength)
        whole = self._content_statistics(content, tile_size)
        return self._tiled(content, lambda tile: self._stylize_piece(tile, target, strength, whole), tile_size,
                           progress)

    def _tiled(self, content, stylize_tile, tile_size, progress, alongside=None):
        tiles, done = _tile_count(content, tile_size), 0

        def counted(*tile):
            nonlocal done
            result = stylize_tile(*tile)
            done += 1
            if progress is not None:
                progress.report(done / tiles)
            return result

        # Dividing by the blending weights' totals can overshoot 1 by a rounding error.
        return np.clip(tiling.stylize_in_tiles(content, counted, tile_size, alongside=alongside), 0.0, 1.0)

    def _stylize_regions(self, content, styles, strength, tile_size, progress, regions):
        """See :meth:`stylize`: AdaIN per region, recombined by the regions' shares, decoded once."""
        by_style = {}
        for style in {style for style in regions.styles if style is not None}:
            vector = self._style_statistics([(styles[style][0], 1.0)])
            by_style[style] = tuple(np.asarray(part) for part in vector)
        targets = [by_style.get(style) for style in regions.styles]
        height, width = content.shape[1:3]
        shares = regions.weights((width, height))
        if max(height, width) <= tile_size:
            return self._stylize_regions_piece(content, shares, targets, strength)
        whole = self._region_statistics(content, shares, tile_size)
        return self._tiled(content, lambda tile, tile_shares: self._stylize_regions_piece(
            tile, tile_shares, targets, strength, whole), tile_size, progress, alongside=shares)

    def _stylize_regions_piece(self, content, shares, targets, strength, content_statistics=None):
        """Encode one image or tile, align each region's features towards its target, recombine and decode."""
        height, width = content.shape[1:3]
        features = self._encode(_padded(content))
        grid = _feature_shares(shares, features.shape[1:3])
        if content_statistics is None:
            content_statistics = _masked_statistics(*_masked_sums(_valid(features, height, width),
                                                                  _valid_shares(grid, height, width)), self._epsilon)
        aligned = np.zeros(features.shape, np.float32)
        for share, target, (mean, std) in zip(grid, targets, content_statistics):
            region = features if target is None else adain(features, mean, std, *target)
            aligned += share[None, :, :, None] * region
        mixed = (strength * aligned + (1.0 - strength) * features).astype(np.float32)
        return self._decode(mixed)[:, :height, :width]

    def _region_statistics(self, content, shares, piece_size):
        """Each region's weighted feature statistics over the whole content, encoded in pieces (see below)."""
        side = piece_size // DOWNSAMPLING * DOWNSAMPLING
        totals = None
        for top in range(0, content.shape[1], side):
            for left in range(0, content.shape[2], side):
                piece = content[:, top:top + side, left:left + side]
                height, width = piece.shape[1:3]
                features = self._encode(_padded(piece))
                grid = _feature_shares(shares[:, top:top + side, left:left + side], features.shape[1:3])
                sums = _masked_sums(_valid(features, height, width), _valid_shares(grid, height, width))
                totals = sums if totals is None else tuple(total + part for total, part in zip(totals, sums))
        return _masked_statistics(*totals, self._epsilon)

    def _stylize_piece(self, content, target, strength, content_statistics=None):
        """Encode, align and decode one image or tile; ``[1, H, W, 3]`` in [0, 1] of its size."""
        height, width = content.shape[1:3]
        features = self._encode(_padded(content))
        mean, std = content_statistics or statistics(_valid(features, height, width), self._epsilon)
        aligned = adain(features, mean, std, *target)
        mixed = strength * aligned + (1.0 - strength) * features
        return self._decode(mixed)[:, :height, :width]

    def _content_statistics(self, content, piece_size):
        """:func:`statistics` of the content's features, encoded in pieces of at most ``piece_size``.

        Not of a scaled-down copy: VGG features change with scale, and a channel
        silent there but active in a tile would be divided by a near-zero deviation.
        """
        side = piece_size // DOWNSAMPLING * DOWNSAMPLING
        total, squares, count = 0.0, 0.0, 0
        for top in range(0, content.shape[1], side):
            for left in range(0, content.shape[2], side):
                piece = content[:, top:top + side, left:left + side]
                features = _valid(self._encode(_padded(piece)), *piece.shape[1:3]).astype(np.float64)
                total, squares = total + features.sum(axis=(0, 1, 2)), squares + (features ** 2).sum(axis=(0, 1, 2))
                count += features.shape[1] * features.shape[2]
        mean = total / count
        variance = np.maximum(squares / count - mean ** 2, 0.0)
        return (tf.constant(mean.reshape(1, 1, 1, -1), tf.float32),
                tf.constant(np.sqrt(variance + self._epsilon).reshape(1, 1, 1, -1), tf.float32))

    def style_vector(self, style):
        """The painting's relu4_1 feature means and standard deviations, side by side: ``[1, 1, 1, 1024]``.

        What AdaIN needs of a painting; a preset stores it, so its painting is never
        encoded again (see :meth:`Method.style_vector`).
        """
        # Not padded to whole pooling steps, as in the graph: no mirrored pixels in the statistics.
        mean, std = statistics(self._encode(_padded(style, multiple=1)))
        return np.concatenate([np.asarray(mean), np.asarray(std)], axis=-1).astype(np.float32)

    def _style_statistics(self, styles):
        """The weighted means of the styles' feature means and standard deviations (images or style vectors)."""
        vector = sum(weight * (style if style.shape == self.style_vector_shape else self.style_vector(style))
                     for style, weight in styles)
        mean, std = np.split(vector, 2, axis=-1)
        return tf.constant(mean), tf.constant(std)


def _feature_shares(shares, feature_size):
    """The regions' shares ``[R, h, w]`` of an image seen on its padded feature grid: ``[R, fh, fw]``.

    Padded as the image is (mirrored to the decoder's size), then averaged over each
    grid cell's DOWNSAMPLING x DOWNSAMPLING pixels.
    """
    rows, columns = (side * DOWNSAMPLING for side in feature_size)
    padded = np.pad(shares, ((0, 0), (0, rows - shares.shape[1]), (0, columns - shares.shape[2])), mode="symmetric")
    cells = padded.reshape(len(shares), feature_size[0], DOWNSAMPLING, feature_size[1], DOWNSAMPLING)
    return cells.mean(axis=(2, 4)).astype(np.float32)


def _valid_shares(grid, height, width):
    """The grid positions that see the image itself (as :func:`_valid`)."""
    return grid[:, :-(-height // DOWNSAMPLING), :-(-width // DOWNSAMPLING)]


def _masked_sums(features, shares):
    """Per region: the share-weighted sums of the features and their squares ``[R, C]``, and the shares' ``[R]``."""
    features = np.asarray(features, np.float64)[0]
    shares = np.asarray(shares, np.float64)
    return (np.einsum("rhw,hwc->rc", shares, features), np.einsum("rhw,hwc->rc", shares, features ** 2),
            shares.sum(axis=(1, 2)))


def _masked_statistics(weighted, squares, mass, epsilon):
    """Each region's ``(mean, sqrt(variance + epsilon))``, each ``[1, 1, 1, C]`` ``float32``.

    A region with no share of the photo (an unused mask value) gets zeros: its share is zero everywhere anyway.
    """
    mass = np.maximum(mass, 1e-6)[:, None]
    means = weighted / mass
    deviations = np.sqrt(np.maximum(squares / mass - means ** 2, 0.0) + epsilon)
    return [(mean.reshape(1, 1, 1, -1).astype(np.float32), deviation.reshape(1, 1, 1, -1).astype(np.float32))
            for mean, deviation in zip(means, deviations)]


def statistics(features, epsilon=0.0):
    """Per-channel mean and ``sqrt(variance + epsilon)`` over positions, each ``[1, 1, 1, C]``.

    As in the decoder graph, ``epsilon`` is added for the content only.
    """
    mean, variance = tf.nn.moments(features, axes=[1, 2], keepdims=True)
    return mean, tf.sqrt(variance + epsilon)


def adain(features, mean, std, target_mean, target_std):
    """The features, normalised by ``mean`` and ``std`` and given ``target_mean`` and ``target_std``."""
    return target_std * (features - mean) / std + target_mean


class Decoder:
    """relu4_1 features -> RGB image in [0, 1], from the decoder graph's float weights.

    With ``winograd`` the convolutions :func:`tfapp.engines.winograd.worth_it` picks run by that algorithm.
    """

    def __init__(self, weights, winograd=False):
        self._weights = []
        for name, kernel, bias in weights:
            fast = winograd and winograd_convolution.worth_it(kernel)
            kernel = winograd_convolution.transformed(kernel) if fast else kernel
            self._weights.append((name, fast, tf.constant(kernel), tf.constant(bias)))

    def __call__(self, features):
        x = features
        for name, fast, kernel, bias in self._weights:
            padded = tf.pad(x, _REFLECT_ONE, "REFLECT")
            if fast:
                x = winograd_convolution.convolve(padded, kernel) + bias
            else:
                x = tf.nn.conv2d(padded, kernel, 1, "VALID") + bias
            if name != DECODER_LAYERS[-1]:
                x = tf.nn.relu(x)
            if name in UPSAMPLED_AFTER:
                x = tf.image.resize(x, 2 * tf.shape(x)[1:3], "nearest")
        # The graph clips to [0, 1] and scales to 0..255; we keep [0, 1].
        return tf.clip_by_value(x, 0.0, 1.0)


def encoder_arrays(model_dir):
    """The encoder graph's weights as float32 arrays named as in the VGG-19 npz (``conv1_1_W``, ...)."""
    names = list(ENCODER_LAYERS)
    values = graph_constants(model_dir / ENCODER_FILE, [f"{name}/kernel" for name in names] +
                             [f"{name}/bias" for name in names])
    arrays = {}
    for index, name in enumerate(names):
        arrays[f"{ENCODER_LAYERS[name]}_W"] = values[index]
        arrays[f"{ENCODER_LAYERS[name]}_b"] = values[len(names) + index]
    return arrays


def decoder_arrays(model_dir):
    """``([(layer, kernel, bias), ...], epsilon)`` from the decoder graph, as float32."""
    names = list(DECODER_LAYERS)
    values = graph_constants(model_dir / DECODER_FILE, [f"{name}/kernel" for name in names] +
                             [f"{name}/bias" for name in names] + [EPSILON_NODE])
    layers = [(name, values[index], values[len(names) + index]) for index, name in enumerate(names)]
    return layers, float(values[-1])


def graph_constants(path, nodes):
    """Evaluate ``nodes`` of the frozen graph at ``path`` once (dequantizing its 8-bit weights): NumPy arrays."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(path.read_bytes())
    graph = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    return [value.numpy() for value in graph.prune([], [f"{node}:0" for node in nodes])()]


def _padded(images, multiple=DOWNSAMPLING):
    """``images`` mirrored at the bottom and right up to at least MIN_SIDE and a multiple of ``multiple``.

    With the default, the sides are those the decoder returns whole.
    """
    height, width = images.shape[1:3]
    extra_rows = max(MIN_SIDE, -(-height // multiple) * multiple) - height
    extra_columns = max(MIN_SIDE, -(-width // multiple) * multiple) - width
    return np.pad(images, ((0, 0), (0, extra_rows), (0, extra_columns), (0, 0)), mode="symmetric")


def _valid(features, height, width):
    """The feature positions that see the image itself rather than its mirrored padding."""
    return features[:, :-(-height // DOWNSAMPLING), :-(-width // DOWNSAMPLING)]


def _tile_count(content, tile_size):
    rows = tiling.plan_axis(content.shape[1], tile_size)[1]
    columns = tiling.plan_axis(content.shape[2], tile_size)[1]
    return len(rows) * len(columns)
