"""Gatys et al.'s neural style transfer: optimise the photo's pixels themselves.

"Image Style Transfer Using Convolutional Neural Networks" (Gatys, Ecker & Bethge,
CVPR 2016): starting from the photo, the pixels are changed until the image's
Gram matrices at relu1_1..relu4_1 of the normalised VGG-19 match the painting's
(the style term), its features stay close to the photo's (the content term), and
neighbouring pixels stay close (total variation). Every feature comes from
:mod:`tfapp.engines.vgg`, the one loss network the benchmarks measure with.

**The balance.** Raw Gram and feature errors scale with the painting's contrast,
with each layer's activation size and with how busy the photo is, so one set of
weights tuned on a few pairs let the style win on others (issue 22). Each term is
therefore a fraction of its own target's energy (``vgg.relative_error``): a style
layer's squared Gram error over the painting's squared Gram, a content layer's
squared feature error over the photo's squared features. What we took and why:

- jcjohnson/neural-style divides the Gram by C*H*W and then, with
  ``-normalize_gradients``, each loss's gradient by its L1 norm; crowsonkb/
  style-transfer-pytorch divides each squared error by its absolute error (so each
  term's gradient has an L1 norm of about one). Both make the terms' sizes
  independent of the layer; dividing by the *target's* energy does that too and
  also removes the painting's contrast and the photo's busyness, while staying a
  smooth loss of the image (no per-step gradient rescaling, which Adam would undo).
- crowsonkb weights the shallow style layers heavily (256:64:16:4:1); here the
  deeper ones weigh most (relu1_1..relu4_1: 0.1, 0.2, 0.4, 0.3). Brush strokes and
  swirls live at relu3_1 and relu4_1, and that is where the results' raw Gram loss
  was largest (chelsea + Starry Night at 384 px: 4.1 at relu3_1, 1.4 at relu4_1,
  1.1 at relu1_1); weight on relu1_1 mostly sprays fine texture over the photo's
  lines. At 512 px, against alike weights, these kept the drawn tower's edges under
  the drawn swirls at 0.83 instead of 0.79 for a style loss on chelsea + Starry Night
  no higher (1.99 against 2.02); shallow-heavy ones (0.4, 0.3, 0.2, 0.1) lost on
  both (0.73, 2.21). The content term uses relu2_1 and relu3_1 beside
  relu4_1 (0.2, 0.4, 0.4): relu4_1 alone let strokes run over thin edges (a bridge's
  cables, window frames) that the finer layers hold in place.
- **Structure.** VGG features cannot tell a photo's lines from its texture, so
  their content term yields both to the style at once, and how soon the lines go
  depends on the pair: a style weight a cat's fur needed to take Starry Night's
  strokes at all dissolved a bridge's cables. After Li et al. 2017
  ("Laplacian-Steered Neural Style Transfer"), a third term keeps the Laplacian of
  the photo's luminance (``vgg.luminance_laplacian``), as a relative error like the
  others: it holds edges and lines in place and leaves colour and texture free, so
  the style weight could rise from 2 to 13.5. Li et al. pool the image 4x4 before the
  Laplacian; at full resolution it measured better here (thin lines are what a
  pooled Laplacian loses).
- Both start from the photo (neural-style's ``-init image``, crowsonkb's
  ``init='content'``) and crowsonkb works coarse to fine; so does this: the coarsest
  scale starts from the photo, each finer one from the previous scale's result.

**Coarse to fine**, as in crowsonkb/style-transfer-pytorch: the long side grows by
sqrt(2) from 128 px, the iterate is upsampled from one scale to the next and the
content target recomputed at each, so most iterations run on few pixels. The Gram
targets are the painting's at the size it arrives in (the size the user chose to
see it at), for every scale.

**Qualities** share the balance and the optimiser (Adam, as crowsonkb uses: its step
is a fixed size in pixel units whatever the pair, where our L-BFGS without a line
search diverged on some pairs) and differ only in resolution and iterations: draft
optimises up to half the content's size and enlarges the result, standard up to its
full size, fine spends more iterations on the two finest scales, the last eight with
ever smaller steps (``Schedule.settle``), so the extra iterations sharpen rather than
spray more texture over the photo's lines. ``strength`` scales the style weight; at 0 the
photo is the optimum and is returned as it is.

**Regions** (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style
Transfer"): each painted region has its own style term, the relative error of its
masked Gram matrices (``vgg.layer_masks``, ``vgg.masked_gram``: the mask resized to
each scale, followed through the network and eroded so a feature counts only where
its receptive field lies inside the region, each Gram averaged over the region's
area) against its painting's. Each region's term weighs as the plain style term does,
so one region covering the photo is the plain objective; weighing them by their share
of the photo instead (the plain balance per pixel) left a region short of its painting
(``bench/regions.py``: 1.14x in a disc at draft). A region that keeps the photo has no
style term; the content term covers the whole image. The pipeline puts the photo back
in kept regions at the end.
"""
import logging
import math
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .. import conf, runtime_choice
from ..methods.gatys import DEFAULT_QUALITY, Gatys
from . import vgg
from .optimisers import OPTIMISERS

logger = logging.getLogger(__name__)

#: Weights of the relative terms at full strength, tuned with ``bench/quality.py`` (docs/benchmarks.md).
#: Without the structure term, 2 was the most style the drawn bridge's cables bore, and standard's
#: raw style loss was the lowest of the methods on only 9 of its 18 pairs at 512 px.
STYLE_WEIGHT = 13.5
CONTENT_WEIGHT = 1.0
STRUCTURE_WEIGHT = 1.0
TV_WEIGHT = 0.1
STYLE_LAYER_WEIGHTS = {"relu1_1": 0.1, "relu2_1": 0.2, "relu3_1": 0.4, "relu4_1": 0.3}
CONTENT_LAYER_WEIGHTS = {"relu2_1": 0.2, "relu3_1": 0.4, "relu4_1": 0.4}
#: The structure target's key among the content targets.
STRUCTURE = "structure"


#: The coarsest scale's long side, and the factor between scales.
MIN_SCALE = 128
SCALE_STEP = math.sqrt(2)

#: The shortest side VGG-19 can work on: three 2x2 poolings leave at least 2 px,
#: which its reflection padding needs. Smaller images are enlarged to it and back.
MIN_SIDE = 16


@dataclass(frozen=True)
class Schedule:
    """How long to optimise: iterations per scale, the coarsest (128 px) scale first.

    A content with more scales than ``iterations`` names gives the finer ones the
    last number; one with fewer leaves the last numbers unused, so a small photo
    still gets the coarse scales' long optimisation. ``resolution`` is the finest
    scale's long side as a fraction of the content's (never below
    :data:`MIN_SCALE`): below one, the last scale's result is enlarged to the content's size.
    The finest scale's last ``settle`` iterations take ever smaller steps (:func:`_step_share`).
    """

    iterations: tuple
    optimiser: str = "adam"
    resolution: float = 1.0
    settle: int = 0

    def iterations_at(self, index_from_coarsest):
        return self.iterations[min(index_from_coarsest, len(self.iterations) - 1)]


#: The schedule of each quality the declaration names (:data:`tfapp.methods.gatys.QUALITIES`).
QUALITIES = {
    "draft": Schedule((20, 12, 6), resolution=0.5),
    "standard": Schedule((40, 28, 14, 12, 8)),
    "fine": Schedule((40, 28, 14, 16, 12), settle=8),
}

def scales(height, width):
    """The ``(height, width)`` of each scale, coarsest first, the last one the image's own."""
    long_side = max(height, width)
    sides = [long_side]
    while round(long_side / SCALE_STEP ** len(sides)) >= MIN_SCALE:
        sides.append(round(long_side / SCALE_STEP ** len(sides)))
    return [(max(MIN_SIDE, round(height * side / long_side)), max(MIN_SIDE, round(width * side / long_side)))
            for side in reversed(sides)]


def iteration_seconds(height, width):
    """The relative cost of one iteration at ``height`` x ``width``, which paces the progress bar.

    A fixed cost per step plus a cost per pixel that grows once the activations outgrow
    the caches: the shape ``bench/gatys.py`` measured per scale on the 2-core machine.
    Only the ratios between scales matter here; the time the page promises is
    :data:`tfapp.methods.gatys.ESTIMATES`'s.
    """
    pixels = height * width
    return 0.24 + 0.67e-6 * pixels ** 1.31


class GatysMethod(Gatys):
    """The optimisation itself, on TensorFlow, measured by the one VGG-19."""

    def __init__(self, weights_path=None):
        _use_threads(conf.engine_threads())
        precision = runtime_choice.tensorflow_precision()
        self._vgg = vgg.shared_vgg(precision) if weights_path is None else vgg.VGG19(weights_path, precision)
        signature = [tf.TensorSpec([1, None, None, 3], tf.float32),
                     {**{layer: tf.TensorSpec([1, None, None, None], tf.float32) for layer in CONTENT_LAYER_WEIGHTS},
                      STRUCTURE: tf.TensorSpec([1, None, None, 1], tf.float32)},
                     {layer: tf.TensorSpec([1, None, None], tf.float32) for layer in vgg.STYLE_LAYERS},
                     tf.TensorSpec([], tf.float32)]
        self._loss_and_gradient = tf.function(self._loss_and_gradient_eagerly, input_signature=signature)
        regions_signature = signature[:2] + [
            {layer: tf.TensorSpec([None, None, None], tf.float32) for layer in vgg.STYLE_LAYERS},
            {layer: tf.TensorSpec([None, None, None], tf.float32) for layer in vgg.STYLE_LAYERS},
            signature[3]]
        self._region_loss_and_gradient = tf.function(self._region_loss_and_gradient_eagerly,
                                                     input_signature=regions_signature)

    def stylize(self, content, styles, strength=1.0, quality=None, tile_size=None, progress=None,
                content_style=None, regions=None, schedule=None):
        """See :meth:`Method.stylize`. ``tile_size`` is unused: the optimisation sees the whole image.

        ``schedule`` (a :class:`Schedule`) overrides ``quality``, for benchmarks and tests.
        ``strength`` scales the style weight linearly; at 0 the photo is the optimum, so
        it is returned as it is, as it is when every region keeps the photo.
        """
        content = np.asarray(content, np.float32)
        if strength <= 0 or (regions is not None and set(regions.styles) == {None}):
            return content.copy()
        schedule = schedule or _schedule(quality)
        style_weight = tf.constant(STYLE_WEIGHT * strength, tf.float32)
        if regions is None:
            targets = vgg.style_targets(self._vgg, [(tf.constant(image, tf.float32), weight)
                                                    for image, weight in styles])

            def objective(size):
                return lambda image, content_target: self._loss_and_gradient(image, content_target, targets,
                                                                             style_weight)
        else:
            objective = self._region_objective(styles, regions, style_weight)
        height, width = content.shape[1:3]
        work = _enlarged(content)
        plan = self._plan(work.shape[1:3], schedule)
        total_cost = sum(cost for _, _, cost in plan)
        done, image = 0.0, work
        optimiser = OPTIMISERS[schedule.optimiser]()
        for index, (size, iterations, cost) in enumerate(plan):
            finest = index == len(plan) - 1
            optimiser = optimiser.next_scale(size[0] * size[1] / (image.shape[1] * image.shape[2]))
            image = _resized(image, size)
            scaled_content = tf.constant(_resized(work, size))
            content_target = self._vgg.features(scaled_content, tuple(CONTENT_LAYER_WEIGHTS))
            content_target[STRUCTURE] = vgg.luminance_laplacian(scaled_content)
            loss_and_gradient = objective(size)
            for step in range(iterations):
                loss, gradient = loss_and_gradient(tf.constant(image), content_target)
                image = optimiser.step(image, float(loss), gradient.numpy(),
                                       _step_share(step, iterations, schedule.settle if finest else 0))
                done += cost / iterations
                if progress is not None:
                    progress.report(min(1.0, done / total_cost), _preview(image, height, width))
        return np.clip(_resized(image, (height, width)), 0.0, 1.0)

    def _region_objective(self, styles, regions, style_weight):
        """``objective(size)`` for :meth:`stylize` with regions: the loss and gradient at a scale of ``size``.

        Each style's Gram targets are computed once; the masks once per scale.
        """
        styled = [region for region, style in enumerate(regions.styles) if style is not None]
        by_style = {style: vgg.style_targets(self._vgg, [(tf.constant(styles[style][0], tf.float32), 1.0)])
                    for style in {regions.styles[region] for region in styled}}
        targets = {layer: tf.concat([by_style[regions.styles[region]][layer] for region in styled], axis=0)
                   for layer in vgg.STYLE_LAYERS}

        def objective(size):
            masks = vgg.layer_masks(regions.weights((size[1], size[0]))[styled])
            return lambda image, content_target: self._region_loss_and_gradient(image, content_target, targets,
                                                                                masks, style_weight)
        return objective

    @staticmethod
    def _plan(size, schedule):
        """``(size, iterations, relative cost)`` per scale optimised for a ``size`` content, coarsest first."""
        sizes = scales(*_working_size(*size, schedule.resolution))
        plan = []
        for index, scale_size in enumerate(sizes):
            iterations = schedule.iterations_at(index)
            plan.append((scale_size, iterations, iterations * iteration_seconds(*scale_size)))
        return [step for step in plan if step[1] > 0]

    def _loss_and_gradient_eagerly(self, image, content_target, targets, style_weight):
        with tf.GradientTape() as tape:
            tape.watch(image)
            loss = self._loss(image, content_target, targets, style_weight)
        return loss, tape.gradient(loss, image)

    def _region_loss_and_gradient_eagerly(self, image, content_target, targets, masks, style_weight):
        with tf.GradientTape() as tape:
            tape.watch(image)
            features = self._vgg.features(image, vgg.STYLE_LAYERS)
            style = tf.add_n([weight * tf.reduce_sum(_relative_errors(
                vgg.masked_gram(features[layer], masks[layer]), targets[layer]))
                for layer, weight in STYLE_LAYER_WEIGHTS.items()])
            loss = (style_weight * style + CONTENT_WEIGHT * _content_term(image, features, content_target)
                    + TV_WEIGHT * vgg.total_variation(image))
        return loss, tape.gradient(loss, image)

    def _loss(self, image, content_target, targets, style_weight):
        features = self._vgg.features(image, vgg.STYLE_LAYERS)
        style = tf.add_n([weight * vgg.relative_error(vgg.gram(features[layer]), targets[layer])
                          for layer, weight in STYLE_LAYER_WEIGHTS.items()])
        content = _content_term(image, features, content_target)
        return style_weight * style + CONTENT_WEIGHT * content + TV_WEIGHT * vgg.total_variation(image)


def _content_term(image, features, content_target):
    """What keeps the photo, over the whole image: the content layers' relative errors and the structure term."""
    layers = tf.add_n([weight * vgg.relative_error(features[layer], content_target[layer])
                       for layer, weight in CONTENT_LAYER_WEIGHTS.items()])
    return layers + STRUCTURE_WEIGHT * vgg.relative_error(vgg.luminance_laplacian(image), content_target[STRUCTURE])


def _relative_errors(values, targets):
    """:func:`vgg.relative_error` of each region's ``[R, C, C]`` Gram matrix against its target: ``[R]``."""
    return (tf.reduce_sum(tf.square(values - targets), axis=[1, 2])
            / tf.maximum(tf.reduce_sum(tf.square(targets), axis=[1, 2]), 1e-12))


def _step_share(step, iterations, settle):
    """The share of its full size the optimiser's step ``step`` of ``iterations`` takes.

    The last ``settle`` steps fall linearly to a tenth: a fixed-size Adam step keeps
    the iterate wandering around the optimum, spraying fine texture over the photo's
    lines; smaller steps let it settle.
    """
    settle = min(settle, iterations)
    if step < iterations - settle:
        return 1.0
    return 1.0 - 0.9 * (step - (iterations - settle) + 1) / settle


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


def _working_size(height, width, resolution):
    """The finest scale's ``(height, width)`` for a content this size at ``resolution``."""
    long_side = max(height, width)
    scale = max(min(long_side, MIN_SCALE), round(long_side * resolution)) / long_side
    return max(MIN_SIDE, round(height * scale)), max(MIN_SIDE, round(width * scale))


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
