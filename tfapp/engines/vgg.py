"""The one VGG-19 loss network: features, Gram matrices and the losses built on them.

Gatys et al.'s optimisation, the method comparison benchmark and style-network
training all measure images with this module, so their numbers are comparable.

The network is the *normalised* VGG-19 the Gatys paper used (its filters rescaled
so each has a mean activation of one over ImageNet), up to ``conv4_1``: the encoder
of AdaIN (Huang & Belongie 2017), whose weights we keep as float32 arrays. Its
input convention is Caffe's, checked against the AdaIN encoder graph in the tests:
RGB in 0..255, flipped to BGR, minus the ImageNet mean; every 3x3 convolution
pads by reflection; pooling is 2x2 max pooling.

Every function takes images as ``float32`` ``[N, H, W, 3]`` RGB in ``[0, 1]``, so
callers never see the Caffe convention. The convolutions may run in bfloat16 (see
:class:`VGG19`); features are handed back in float32, so Gram matrices and losses
are summed in float32 either way. AdaIN's encoder may compute its wider convolutions
by Winograd's algorithm (:mod:`tfapp.engines.winograd`), the same function in less arithmetic.
"""
import threading
from pathlib import Path

import numpy as np
import tensorflow as tf

from .. import conf
from ..exceptions import ModelUnavailable
from . import winograd as winograd_convolution

#: The layers in order; "pool" is a 2x2 max pooling.
LAYERS = ("conv1_1", "conv1_2", "pool", "conv2_1", "conv2_2", "pool", "conv3_1", "conv3_2", "conv3_3",
          "conv3_4", "pool", "conv4_1")

#: Gatys et al.'s style layers and the content layer AdaIN and Gatys share.
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
CONTENT_LAYER = "relu4_1"

#: Caffe's ImageNet mean, in BGR order, subtracted from 0..255 inputs.
MEAN_BGR = (103.939, 116.779, 123.68)


#: TensorFlow's type for each precision name of ``NST_PRECISION`` (as resolved by ``runtime_choice``).
DTYPES = {"f32": tf.float32, "bf16": tf.bfloat16}


class VGG19:
    """The normalised VGG-19 up to ``relu4_1``, its weights held as constants.

    ``precision`` ("f32" or "bf16") is what the convolutions run in: bfloat16 is
    about three times as fast on a CPU with native BF16 (AVX512_BF16 or AMX) and
    changes Gatys's losses by a few per cent (``bench/gatys.py --bf16``).
    Thread-safe: it holds no state besides the weights.
    """

    def __init__(self, path=None, precision="f32"):
        path = Path(path or conf.vgg_weights_path())
        try:
            with np.load(path) as arrays:
                self._weights = _constants(arrays, DTYPES[precision])
        except (OSError, KeyError, ValueError) as error:
            raise _unreadable(path, error) from error
        self.precision = precision
        self._winograd = set()

    @classmethod
    def from_arrays(cls, arrays, winograd=False):
        """The network with the weights in ``arrays``, named as in the npz (``conv1_1_W``, ``conv1_1_b``, ...).

        With ``winograd`` the convolutions :func:`tfapp.engines.winograd.worth_it` picks
        run by that algorithm (float32 only): faster where OpenVINO runs the network,
        equal to the direct convolutions up to rounding.
        """
        network = cls.__new__(cls)
        network._winograd = {name for name in LAYERS if name != "pool" and winograd
                             and winograd_convolution.worth_it(arrays[f"{name}_W"])}
        network._weights = _constants(arrays, tf.float32, network._winograd)
        network.precision = "f32"
        return network

    def features(self, images, layers=STYLE_LAYERS):
        """The activations at ``layers`` (names like ``relu3_1``) of ``[N, H, W, 3]`` RGB images in [0, 1].

        Returns a dict from layer name to ``float32`` ``[N, h, w, C]``. The network
        stops at the deepest layer asked for.
        """
        wanted = set(layers)
        found = {}
        x = tf.cast(preprocess(images), DTYPES[self.precision])
        for layer in LAYERS:
            if layer == "pool":
                x = tf.nn.max_pool2d(x, 2, 2, "VALID")
                continue
            kernel, bias = self._weights[layer]
            padded = tf.pad(x, _REFLECT_ONE, "REFLECT")
            if layer in self._winograd:
                x = tf.nn.relu(winograd_convolution.convolve(padded, kernel) + bias)
            else:
                x = tf.nn.relu(tf.nn.conv2d(padded, kernel, 1, "VALID") + bias)
            name = layer.replace("conv", "relu")
            if name in wanted:
                found[name] = tf.cast(x, tf.float32)
                if len(found) == len(wanted):
                    return found
        raise ValueError(f"Unknown VGG-19 layers: {sorted(wanted - set(found))}")


_REFLECT_ONE = [[0, 0], [1, 1], [1, 1], [0, 0]]


def _constants(arrays, dtype, winograd=()):
    """Each layer's (kernel, bias) constants; the kernels of the ``winograd`` layers transformed for it."""
    return {name: (tf.constant(winograd_convolution.transformed(arrays[f"{name}_W"]) if name in winograd
                               else arrays[f"{name}_W"], dtype), tf.constant(arrays[f"{name}_b"], dtype))
            for name in LAYERS if name != "pool"}


def preprocess(images):
    """RGB in [0, 1] to the network's input: BGR in 0..255 minus the ImageNet mean."""
    return tf.reverse(images, axis=[-1]) * 255.0 - tf.constant(MEAN_BGR, tf.float32)


def gram(features):
    """The Gram matrix of each image's features, ``[N, C, C]``, averaged over positions."""
    height, width = tf.shape(features)[1], tf.shape(features)[2]
    positions = tf.cast(height * width, features.dtype)
    return tf.einsum("nhwc,nhwd->ncd", features, features) / positions


def layer_masks(masks, layers=STYLE_LAYERS):
    """Regions' shares ``[R, H, W]`` of an image, seen at each of ``layers``: ``{layer: [R, h, w]}`` float32.

    As Gatys et al. 2017 ("Controlling Perceptual Factors in Neural Style Transfer")
    do, the mask follows the network: every 3x3 convolution erodes it by one position
    (a minimum over the window) and every pooling takes the minimum of its 2x2 cells,
    so a feature counts for a region only as far as its whole receptive field lies in
    it. A region thinner than a layer's receptive field would vanish there; at that
    layer it keeps its share merely averaged down to the layer's size.
    """
    eroded = plain = tf.constant(np.asarray(masks, np.float32)[..., np.newaxis])
    found = {}
    for layer in LAYERS:
        if layer == "pool":
            eroded = -tf.nn.max_pool2d(-eroded, 2, 2, "VALID")
            plain = tf.nn.avg_pool2d(plain, 2, 2, "VALID")
            continue
        eroded = -tf.nn.max_pool2d(-eroded, 3, 1, "SAME")
        name = layer.replace("conv", "relu")
        if name in layers:
            survives = tf.reduce_sum(eroded, axis=[1, 2, 3]) >= 1.0
            found[name] = tf.where(survives[:, None, None], eroded[..., 0], plain[..., 0])
            if len(found) == len(layers):
                return found
    raise ValueError(f"Unknown VGG-19 layers: {sorted(set(layers) - set(found))}")


def masked_gram(features, masks):
    """Each region's Gram matrix of one image's features ``[1, h, w, C]``: ``[R, C, C]``.

    ``masks`` (``[R, h, w]``, from :func:`layer_masks`) weighs each position; each
    region's Gram is averaged over its own area (the sum of its mask), so a region
    matches its painting's :func:`gram` whatever its size.
    """
    weighted = features[0][tf.newaxis] * masks[..., tf.newaxis]
    area = tf.maximum(tf.reduce_sum(masks, axis=[1, 2]), 1e-6)
    return tf.einsum("rhwc,hwd->rcd", weighted, features[0]) / area[:, tf.newaxis, tf.newaxis]


def style_targets(vgg, styles):
    """Gram targets of a weighted blend of styles: ``{layer: [1, C, C]}``.

    ``styles`` is a list of ``(image [1, h, w, 3] in [0, 1], weight)``, weights
    summing to one; blending several styles averages their Gram matrices by weight.
    """
    targets = {}
    for image, weight in styles:
        for layer, features in vgg.features(image, STYLE_LAYERS).items():
            targets[layer] = targets.get(layer, 0.0) + weight * gram(features)
    return targets


def style_loss(features, targets):
    """Gatys et al.'s style loss: the mean squared Gram difference, summed over the style layers."""
    return tf.add_n([tf.reduce_mean(tf.square(gram(features[layer]) - targets[layer])) for layer in targets])


def region_style_losses(vgg, images, shares, style_images):
    """:func:`style_loss` of each region of ``images`` against its own painting: a list of floats.

    ``shares`` (``[R, H, W]``, at the images' size, e.g. ``Regions.weights``) says where
    each region is; region r's Gram matrices are :func:`masked_gram` by
    :func:`layer_masks`, compared with ``style_images[r]`` (``[1, h, w, 3]``)'s.
    """
    features = vgg.features(images, STYLE_LAYERS)
    masks = layer_masks(shares)
    losses = []
    for region, style in enumerate(style_images):
        targets = style_targets(vgg, [(style, 1.0)])
        losses.append(float(tf.add_n([
            tf.reduce_mean(tf.square(masked_gram(features[layer], masks[layer][region:region + 1]) - targets[layer]))
            for layer in STYLE_LAYERS])))
    return losses


def content_loss(features, target):
    """The mean squared difference of content-layer features."""
    return tf.reduce_mean(tf.square(features - target))


def relative_error(value, target):
    """The squared error of ``value`` as a fraction of ``target``'s squared size: 0 at the target.

    Gatys's terms (a Gram matrix against the painting's, features against the
    photo's) in this form weigh alike whatever the layer's activation size, the
    painting's contrast or the photo's busyness; see :mod:`tfapp.engines.gatys`.
    """
    return tf.reduce_sum(tf.square(value - target)) / tf.maximum(tf.reduce_sum(tf.square(target)), 1e-12)


def total_variation(images):
    """Mean absolute difference of neighbouring pixels (in [0, 1] units), which smooths the image."""
    vertical = tf.reduce_mean(tf.abs(images[:, 1:] - images[:, :-1]))
    horizontal = tf.reduce_mean(tf.abs(images[:, :, 1:] - images[:, :, :-1]))
    return vertical + horizontal


#: The 4-neighbour Laplacian, as a 3x3 convolution kernel of one channel.
_LAPLACIAN = tf.constant([[0.0, -1.0, 0.0], [-1.0, 4.0, -1.0], [0.0, -1.0, 0.0]])[:, :, tf.newaxis, tf.newaxis]
#: ITU-R BT.601 luma weights of R, G and B.
_LUMA = tf.constant([0.299, 0.587, 0.114])


def luminance_laplacian(images):
    """The Laplacian of ``[N, H, W, 3]`` images' luminance, ``[N, H, W, 1]``: where their edges and lines are.

    The structure a photo's viewer recognises, independent of its colours and of
    the Gram statistics a style term asks of it (Li et al. 2017, "Laplacian-Steered
    Neural Style Transfer"). The border is reflected, as VGG-19's convolutions are.
    """
    luma = tf.reduce_sum(images * _LUMA, axis=-1, keepdims=True)
    return tf.nn.conv2d(tf.pad(luma, _REFLECT_ONE, "REFLECT"), _LAPLACIAN, 1, "VALID")


def objective(vgg, images, content, style_images):
    """The comparison objective of the methods benchmark: ``(style loss, content loss)`` as floats.

    ``images`` and ``content`` are ``[1, H, W, 3]`` in [0, 1] of one size; ``style_images``
    a list of ``(image, weight)`` as for :func:`style_targets`.
    """
    layers = STYLE_LAYERS
    features = vgg.features(images, layers)
    target = vgg.features(content, (CONTENT_LAYER,))[CONTENT_LAYER]
    targets = style_targets(vgg, style_images)
    return float(style_loss(features, targets)), float(content_loss(features[CONTENT_LAYER], target))


_lock = threading.Lock()
_shared = {}


def _unreadable(path, error):
    return ModelUnavailable(f"The VGG-19 weights {path} could not be read ({error}). Run `python manage.py "
                            "download_models --engine vgg`, or set NST_VGG_WEIGHTS to the .npz file.")


def shared_vgg(precision="f32"):
    """The process's VGG-19 in ``precision``, loaded on first use (thread-safe). Raises ModelUnavailable."""
    key = (str(conf.vgg_weights_path()), precision)
    with _lock:
        if key not in _shared:
            _shared[key] = VGG19(key[0], precision)
        return _shared[key]
