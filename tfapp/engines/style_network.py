"""The feed-forward style network that training fits to one painting.

Johnson et al. (2016)'s image transformation network with Ulyanov et al. (2016)'s
instance normalisation: a 9x9 convolution, two stride-2 convolutions, residual
blocks at a quarter of the size, two upsampling steps back to the full size and a
9x9 convolution to RGB. It is slimmed to run a 512x512 photo in about a tenth of a
second on two CPU cores (measured in ``bench/trained_styles.py``):

- widths 16-32-64 instead of 32-64-128 (a quarter of the multiply-adds);
- residual blocks of depthwise-separable convolutions (a 3x3 per-channel
  convolution, then a 1x1 across channels), as lightweight fast-style variants do;
- upsampling by nearest-neighbour resizing and a separable convolution, which
  avoids the checkerboard of transposed convolutions (Odena et al. 2016).

Johnson's full network costs about 40 GFLOP at 512x512; this one about 5. The
trade-off is less capacity: brush strokes come out simpler than his.

The weights are plain ``tf.Variable``s in a fixed order (:meth:`StyleNetwork.weights`),
which is what the checkpoints store and the export traces.
"""
import numpy as np
import tensorflow as tf

#: Channels at half and at a quarter of the size.
WIDTHS = (32, 64)
RESIDUAL_BLOCKS = 5
#: Padding of the 9x9 convolution plus the two halvings need this much; smaller inputs are mirrored up.
MIN_SIDE = 16


class StyleNetwork(tf.Module):
    """``[N, H, W, 3]`` RGB in [0, 1] -> ``[N, H, W, 3]`` RGB in [0, 1], for any H, W >= :data:`MIN_SIDE`.

    ``seed`` fixes the initial weights; ``compute_dtype`` ``float16`` runs the
    convolutions in half precision (mixed precision on a GPU) with float32 weights.
    """

    def __init__(self, seed=0, compute_dtype=tf.float32):
        super().__init__(name="style_network")
        self.compute_dtype = compute_dtype
        initializer = np.random.default_rng(seed)
        self._variables = {}
        middle, wide = WIDTHS
        self._conv("encode1", 3, 3 * 4, middle, initializer)
        self._conv("encode2", 3, middle, wide, initializer)
        for block in range(RESIDUAL_BLOCKS):
            for half in (1, 2):
                self._separable(f"residual{block}_{half}", wide, wide, initializer)
        self._separable("decode1", wide, middle, initializer)
        self._conv("output", 3, middle, 3 * 4, initializer, normalised=False)

    @property
    def weights(self):
        """The trainable variables in creation order (the order checkpoints store)."""
        return list(self._variables.values())

    def __call__(self, images):
        x = tf.cast(_space_to_depth(images), self.compute_dtype)
        half = self._apply("encode1", x)
        x = self._apply("encode2", half, stride=2)
        for block in range(RESIDUAL_BLOCKS):
            inner = self._apply_separable(f"residual{block}_1", x)
            x = x + self._apply_separable(f"residual{block}_2", inner, relu=False)
        x = self._apply_separable("decode1", _resize_like(x, half))
        x = _reflect_conv(x, self._weight("output_kernel"), 1) + self._weight("output_bias")
        rgb = tf.nn.depth_to_space(tf.sigmoid(tf.cast(x, tf.float32)), 2)
        return rgb[:, :tf.shape(images)[1], :tf.shape(images)[2]]

    def _conv(self, name, size, inputs, outputs, initializer, normalised=True):
        self._add(f"{name}_kernel", _he_normal(initializer, (size, size, inputs, outputs), size * size * inputs))
        if normalised:
            self._add_norm(name, outputs)
        else:
            self._add(f"{name}_bias", np.zeros(outputs, np.float32))

    def _separable(self, name, inputs, outputs, initializer):
        self._add(f"{name}_depthwise", _he_normal(initializer, (3, 3, inputs, 1), 9))
        self._add(f"{name}_pointwise", _he_normal(initializer, (1, 1, inputs, outputs), inputs))
        self._add_norm(name, outputs)

    def _add_norm(self, name, channels):
        self._add(f"{name}_scale", np.ones(channels, np.float32))
        self._add(f"{name}_offset", np.zeros(channels, np.float32))

    def _add(self, name, initial):
        self._variables[name] = tf.Variable(initial, name=name)

    def _weight(self, name):
        return tf.cast(self._variables[name], self.compute_dtype)

    def _apply(self, name, x, stride=1):
        x = _reflect_conv(x, self._weight(f"{name}_kernel"), stride)
        return tf.nn.relu(self._normalise(name, x))

    def _apply_separable(self, name, x, relu=True):
        x = tf.pad(x, _reflect_padding(3), "REFLECT")
        x = tf.nn.separable_conv2d(x, self._weight(f"{name}_depthwise"), self._weight(f"{name}_pointwise"),
                                   [1, 1, 1, 1], "VALID")
        x = self._normalise(name, x)
        return tf.nn.relu(x) if relu else x

    def _normalise(self, name, x):
        """Instance normalisation: each image's channels to zero mean and unit variance, then scaled and shifted."""
        mean, variance = tf.nn.moments(tf.cast(x, tf.float32), axes=[1, 2], keepdims=True)
        normalised = (tf.cast(x, tf.float32) - mean) * tf.math.rsqrt(variance + 1e-5)
        return tf.cast(normalised * self._variables[f"{name}_scale"] + self._variables[f"{name}_offset"],
                       self.compute_dtype)


def _he_normal(initializer, shape, fan_in):
    return (initializer.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def _reflect_padding(size):
    return [[0, 0], [size // 2, size // 2], [size // 2, size // 2], [0, 0]]


def _reflect_conv(x, kernel, stride):
    """A convolution that keeps the size (``ceil(side / stride)``), padding the edges by reflection."""
    size = kernel.shape[0]
    return tf.nn.conv2d(tf.pad(x, _reflect_padding(size), "REFLECT"), kernel, stride, "VALID")


def _space_to_depth(images):
    """Each 2x2 block of pixels as one pixel of 12 channels; odd sides are first padded by reflection."""
    height, width = tf.shape(images)[1], tf.shape(images)[2]
    padded = tf.pad(images, [[0, 0], [0, height % 2], [0, width % 2], [0, 0]], "REFLECT")
    return tf.nn.space_to_depth(padded, 2)


def _resize_like(x, reference):
    """``x`` enlarged by nearest neighbours to ``reference``'s height and width, so odd sizes come back exactly."""
    size = tf.shape(reference)[1:3]
    return tf.cast(tf.image.resize(x, size, method="nearest"), x.dtype)
