"""Gatys et al.'s neural style transfer: optimise the photo's pixels themselves.

"Image Style Transfer Using Convolutional Neural Networks" (Gatys, Ecker & Bethge,
CVPR 2016): starting from the photo, the pixels are changed until the image's
Gram matrices at relu1_1..relu4_1 of the normalised VGG-19 match the painting's
(the style loss), its relu4_1 features stay close to the photo's (the content
loss), and neighbouring pixels stay close (total variation). Every loss comes from
:mod:`tfapp.engines.vgg`, the one loss network the benchmarks measure with.

The optimisation runs coarse to fine, as in crowsonkb/style-transfer-pytorch: the
long side grows by sqrt(2) from 128 px to the content's, the iterate is upsampled
from one scale to the next and the content target recomputed at each, so most
iterations run on few pixels. The Gram targets are the painting's at the size it
arrives in (the size the user chose to see it at), for every scale.

The optimiser is chosen per preset from ``bench/gatys.py``, which runs both over the
same schedule (so the same VGG evaluations and about the same time; figures in
README.md). With one to three iterations at the fine scales (draft), Adam wins: at
512 px style 1.324 / content 2.982 against L-BFGS's 2.116 / 3.176, because L-BFGS
needs a few steps at each scale before its curvature estimate is any good. Over the
earlier standard schedule (6, 10, 24, 40, 50) L-BFGS reached 0.196 / 2.246 against
Adam's 0.294 / 2.545, so standard and fine use L-BFGS.
"""
import logging
import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .. import conf
from ..methods.base import Capabilities, Method
from . import vgg
from .optimisers import OPTIMISERS

logger = logging.getLogger(__name__)

#: Loss weights at full strength, tuned so the result's style loss is below Magenta's
#: while its content loss stays within 1.5x Magenta's (``bench/methods.py``, against the unsmoothed painting).
STYLE_WEIGHT = 2.5
CONTENT_WEIGHT = 1.0
TV_WEIGHT = 1.0

#: The coarsest scale's long side, and the factor between scales.
MIN_SCALE = 128
SCALE_STEP = math.sqrt(2)

#: The shortest side VGG-19 can work on: three 2x2 poolings leave at least 2 px,
#: which its reflection padding needs. Smaller images are enlarged to it and back.
MIN_SIDE = 16


@dataclass(frozen=True)
class Schedule:
    """How long to optimise: iterations per scale, the finest (content-sized) scale first.

    When the content has more scales than ``iterations`` names, the coarser ones get
    the last number; when fewer, the extra numbers are unused.
    """

    iterations: tuple
    optimiser: str = "lbfgs"

    def iterations_at(self, index_from_finest):
        return self.iterations[min(index_from_finest, len(self.iterations) - 1)]


QUALITIES = {
    "draft": Schedule((1, 1, 3, 6, 12), "adam"),
    "standard": Schedule((4, 6, 14, 28, 40)),
    "fine": Schedule((10, 20, 40, 80, 120)),
}
DEFAULT_QUALITY = "standard"


def scales(height, width):
    """The ``(height, width)`` of each scale, coarsest first, the last one the image's own."""
    long_side = max(height, width)
    sides = [long_side]
    while round(long_side / SCALE_STEP ** len(sides)) >= MIN_SCALE:
        sides.append(round(long_side / SCALE_STEP ** len(sides)))
    return [(max(MIN_SIDE, round(height * side / long_side)), max(MIN_SIDE, round(width * side / long_side)))
            for side in reversed(sides)]


def iteration_seconds(height, width):
    """Measured seconds per iteration at ``height`` x ``width`` on the reference machine.

    A fixed cost per step plus a cost per pixel that grows once the activations outgrow
    the caches: the shape fitted by ``bench/gatys.py`` on the 2-core machine while it was
    shared (load average about 10), scaled by 0.4 to the standard preset's median of
    117 s per 512x512 transfer that ``bench/methods.py`` measured at a load of about 3.
    """
    pixels = height * width
    return 0.24 + 0.67e-6 * pixels ** 1.31


class GatysMethod(Method):
    name = "gatys"
    engine = "gatys"
    implementation = "tfapp.engines.gatys.GatysMethod"
    label = "Gatys (slow, finest)"
    description = "Optimises the photo itself until its textures match the painting's: minutes, finest detail."
    queue = "slow"
    capabilities = Capabilities(strength=True, blending=True, preserve_colours=True, style_scale=True,
                                previews=True, cancel=True, qualities=tuple(QUALITIES))
    reasons = {"style_vectors": "Gatys optimises against the painting's own features, not a style vector."}
    strength_help = "The weight of the painting's textures against your photo's content: 0 % leaves the photo as it is."

    def __init__(self, weights_path=None):
        _use_threads(conf.engine_threads())
        self._vgg = vgg.shared_vgg() if weights_path is None else vgg.VGG19(weights_path)
        signature = [tf.TensorSpec([1, None, None, 3], tf.float32),
                     tf.TensorSpec([1, None, None, 512], tf.float32),
                     {layer: tf.TensorSpec([1, None, None], tf.float32) for layer in vgg.STYLE_LAYERS},
                     tf.TensorSpec([], tf.float32)]
        self._loss_and_gradient = tf.function(self._loss_and_gradient_eagerly, input_signature=signature)

    def stylize(self, content, styles, strength=1.0, quality=None, tile_size=None, progress=None,
                content_style=None, schedule=None):
        """See :meth:`Method.stylize`. ``tile_size`` is unused: the optimisation sees the whole image.

        ``schedule`` (a :class:`Schedule`) overrides ``quality``, for benchmarks and tests.
        ``strength`` scales the style weight linearly; at 0 the photo is the optimum, so
        it is returned as it is.
        """
        content = np.asarray(content, np.float32)
        if strength <= 0:
            return content.copy()
        schedule = schedule or _schedule(quality)
        style_weight = tf.constant(STYLE_WEIGHT * strength, tf.float32)
        targets = vgg.style_targets(self._vgg, [(tf.constant(image, tf.float32), weight) for image, weight in styles])
        height, width = content.shape[1:3]
        work = _enlarged(content)
        plan = self._plan(work.shape[1:3], schedule)
        total_cost = sum(cost for _, _, cost in plan)
        done, image = 0.0, work
        optimiser = OPTIMISERS[schedule.optimiser]()
        for (size, iterations, cost) in plan:
            optimiser = optimiser.next_scale(size[0] * size[1] / (image.shape[1] * image.shape[2]))
            image = _resized(image, size)
            scaled_content = tf.constant(_resized(work, size))
            content_target = self._vgg.features(scaled_content, (vgg.CONTENT_LAYER,))[vgg.CONTENT_LAYER]
            for _ in range(iterations):
                loss, gradient = self._loss_and_gradient(tf.constant(image), content_target, targets, style_weight)
                image = optimiser.step(image, float(loss), gradient.numpy())
                done += cost / iterations
                if progress is not None:
                    progress.report(min(1.0, done / total_cost), _preview(image, height, width))
        return np.clip(_resized(image, (height, width)), 0.0, 1.0)

    @staticmethod
    def _plan(size, schedule):
        """``(size, iterations, expected seconds)`` per scale, coarsest first."""
        sizes = scales(*size)
        plan = []
        for index, scale_size in enumerate(sizes):
            iterations = schedule.iterations_at(len(sizes) - 1 - index)
            plan.append((scale_size, iterations, iterations * iteration_seconds(*scale_size)))
        return [step for step in plan if step[1] > 0]

    def _loss_and_gradient_eagerly(self, image, content_target, targets, style_weight):
        with tf.GradientTape() as tape:
            tape.watch(image)
            loss = self._loss(image, content_target, targets, style_weight)
        return loss, tape.gradient(loss, image)

    def _loss(self, image, content_target, targets, style_weight):
        features = self._vgg.features(image, vgg.STYLE_LAYERS)
        return (style_weight * vgg.style_loss(features, targets)
                + CONTENT_WEIGHT * vgg.content_loss(features[vgg.CONTENT_LAYER], content_target)
                + TV_WEIGHT * vgg.total_variation(image))

    @classmethod
    def check_available(cls):
        vgg.check_weights()

    @classmethod
    def estimate_seconds(cls, width, height, quality=None):
        schedule = _schedule(quality)
        size = _enlarged_size(height, width)
        return round(sum(cost for _, _, cost in cls._plan(size, schedule)), 1)


def _schedule(quality):
    if quality is not None and quality not in QUALITIES:
        raise ValueError(f"Gatys has no quality {quality!r}; it has {', '.join(QUALITIES)}.")
    return QUALITIES[quality or DEFAULT_QUALITY]


def _use_threads(threads):
    """Give TensorFlow ``threads`` CPU threads; possible only before it starts running."""
    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:
        current = tf.config.threading.get_intra_op_parallelism_threads()
        if current != threads:
            logger.warning("TensorFlow had already started with %s threads (0: all cores); NST_ENGINE_THREADS=%s "
                           "applies from the next start of this process.", current, threads)


def _enlarged_size(height, width):
    scale = max(1.0, MIN_SIDE / min(height, width))
    return round(height * scale), round(width * scale)


def _enlarged(content):
    """The content enlarged so its short side is at least :data:`MIN_SIDE`."""
    return _resized(content, _enlarged_size(*content.shape[1:3]))


def _resized(image, size):
    """``[1, h, w, 3]`` -> ``[1, *size, 3]`` float32: bicubic, antialiased when shrinking."""
    if tuple(image.shape[1:3]) == tuple(size):
        return image
    return np.clip(tf.image.resize(image, size, "bicubic", antialias=True).numpy(), 0.0, 1.0)


def _preview(image, height, width):
    """A callable for :meth:`Progress.report`: the current iterate at the content's size."""
    return lambda: _resized(image, (height, width))
