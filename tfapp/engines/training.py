"""Training a :class:`~.style_network.StyleNetwork` for one painting (Johnson et al. 2016).

Each step stylizes a batch of random photo crops and descends the loss the methods
benchmark measures, from the project's one VGG-19 (:mod:`.vgg`): the style loss on
Gram matrices at relu1_1..relu4_1 against the painting, the content loss at relu4_1
against the photo (the layer Gatys and AdaIN use here, so a trained network is
judged by the objective it was trained on), and total variation for smoothness.

Everything that decides the next step is in the checkpoint: the weights, Adam's
moments, the step, the loss scale and the state of the one random generator that
picks photos and crops. So a run stopped and resumed makes the same steps as one
that never stopped. On a GPU the network computes in float16 with float32 weights
(mixed precision) and a dynamic loss scale; the VGG-19 loss network stays float32.
"""
import logging
import time

import numpy as np
import tensorflow as tf

from ..imaging import encode_png, image2tensor, open_image, tensor2image
from ..training_photos import CropSampler, PhotoFolder
from ..training_runs import write_atomically
from . import vgg
from .style_network import StyleNetwork

logger = logging.getLogger(__name__)

#: Long side of the validation image rendered at each checkpoint.
VALIDATION_SIDE = 384
LOSS_NAMES = ("total", "style", "content", "tv")


class Hooks:
    """What the caller of :meth:`Trainer.train` hears, and how it asks training to stop. Defaults do nothing."""

    def on_step(self, step, losses):
        """After each step: ``losses`` maps ``total``, ``style``, ``content``, ``tv`` to floats."""

    def on_checkpoint(self, step, losses, validation_image):
        """After each checkpoint is written; ``validation_image`` is the path of the new validation PNG."""

    def should_stop(self):
        """Checked before each step: true makes training write a checkpoint and return."""
        return False


class Trainer:
    """A training run, restored from its latest checkpoint when it has one."""

    def __init__(self, run):
        self.run = run
        self.settings = settings = run.settings()
        self.mixed_precision = bool(tf.config.list_physical_devices("GPU"))
        self.network = StyleNetwork(settings.seed, tf.float16 if self.mixed_precision else tf.float32)
        self.optimizer = Adam(self.network.weights, settings.learning_rate)
        self.loss_scale = LossScale(enabled=self.mixed_precision)
        self.vgg = vgg.shared_vgg()
        style = image2tensor(open_image(run.style_file))
        self.targets = vgg.style_targets(self.vgg, [(style, 1.0)])
        photos = PhotoFolder(settings.photos, settings.batch)
        self.rng = np.random.default_rng(settings.seed)
        self.sampler = CropSampler(photos.training, settings.size, self.rng)
        self.validation = image2tensor(open_image(photos.validation), VALIDATION_SIDE)
        self.step, self.losses = 0, {}
        self._restore(run.load_checkpoint())
        self._step_function = tf.function(self._train_step)
        self._render = tf.function(self.network, input_signature=[tf.TensorSpec([1, None, None, 3], tf.float32)])

    @property
    def device(self):
        return "GPU (mixed precision)" if self.mixed_precision else "CPU"

    def train(self, hooks=None):
        """Train up to ``settings.steps``; returns ``"finished"`` or ``"stopped"`` (checkpoint written either way)."""
        hooks = hooks or Hooks()
        writer = tf.summary.create_file_writer(str(self.run.events_dir))
        with writer.as_default():
            while self.step < self.settings.steps:
                if hooks.should_stop():
                    self._checkpoint(hooks)
                    return "stopped"
                self._one_step(hooks)
                if self.step % self.settings.checkpoint_every == 0 or self.step == self.settings.steps:
                    self._checkpoint(hooks)
        return "finished"

    def _one_step(self, hooks):
        photos = tf.constant(self.sampler.batch(self.settings.batch))
        values = self._step_function(photos)
        self.step += 1
        self.losses = {name: float(value) for name, value in zip(LOSS_NAMES, values)}
        for name, value in self.losses.items():
            tf.summary.scalar(f"loss/{name}", value, step=self.step)
        hooks.on_step(self.step, self.losses)

    def _train_step(self, photos):
        settings = self.settings
        with tf.GradientTape() as tape:
            stylized = self.network(photos)
            features = self.vgg.features(stylized, vgg.STYLE_LAYERS)
            target = self.vgg.features(photos, (vgg.CONTENT_LAYER,))[vgg.CONTENT_LAYER]
            style = vgg.style_loss(features, self.targets)
            content = vgg.content_loss(features[vgg.CONTENT_LAYER], target)
            smoothness = vgg.total_variation(stylized)
            total = settings.style_weight * style + settings.content_weight * content + settings.tv_weight * smoothness
            scaled = self.loss_scale.scale(total)
        gradients = tape.gradient(scaled, self.network.weights)
        self.loss_scale.apply(gradients, self.optimizer)
        return total, style, content, smoothness

    def render_validation(self):
        """The held-aside photo as the network stylizes it now, ``[1, H, W, 3]`` in [0, 1]."""
        return self._render(tf.constant(self.validation))

    def _checkpoint(self, hooks):
        started = time.perf_counter()
        arrays = {f"network/{index}": weight.numpy() for index, weight in enumerate(self.network.weights)}
        arrays.update(self.optimizer.arrays())
        state = {"step": self.step, "losses": self.losses, "rng": self.rng.bit_generator.state,
                 "loss_scale": self.loss_scale.state(), "device": self.device}
        self.run.save_checkpoint(arrays, state)
        validation = self.render_validation()
        path = self.run.validation_image(self.step)
        path.parent.mkdir(exist_ok=True)
        write_atomically(path, encode_png(tensor2image(validation)))
        tf.summary.image("validation", validation, step=self.step)
        tf.summary.flush()
        logger.info("Checkpoint at step %d written in %.1f s.", self.step, time.perf_counter() - started)
        hooks.on_checkpoint(self.step, self.losses, path)

    def _restore(self, checkpoint):
        if checkpoint is None:
            return
        arrays, state = checkpoint
        load_network_weights(self.network, arrays)
        self.optimizer.restore(arrays)
        self.step, self.losses = state["step"], state["losses"]
        self.rng.bit_generator.state = state["rng"]
        self.loss_scale.restore(state["loss_scale"])


def load_network_weights(network, arrays):
    """Set ``network``'s weights from a checkpoint's arrays."""
    for index, weight in enumerate(network.weights):
        weight.assign(arrays[f"network/{index}"])


class Adam:
    """Adam (Kingma & Ba 2015) over a fixed list of variables, its moments exposed for checkpoints."""

    def __init__(self, variables, learning_rate, beta1=0.9, beta2=0.999, epsilon=1e-8):
        self.variables = variables
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.first = [tf.Variable(tf.zeros_like(variable), trainable=False) for variable in variables]
        self.second = [tf.Variable(tf.zeros_like(variable), trainable=False) for variable in variables]

    def apply(self, gradients):
        self.iterations.assign_add(1)
        t = tf.cast(self.iterations, tf.float32)
        rate = self.learning_rate * tf.sqrt(1 - self.beta2 ** t) / (1 - self.beta1 ** t)
        for variable, gradient, first, second in zip(self.variables, gradients, self.first, self.second):
            first.assign(self.beta1 * first + (1 - self.beta1) * gradient)
            second.assign(self.beta2 * second + (1 - self.beta2) * tf.square(gradient))
            variable.assign_sub(rate * first / (tf.sqrt(second) + self.epsilon))

    def arrays(self):
        arrays = {"adam/iterations": self.iterations.numpy()}
        for index, (first, second) in enumerate(zip(self.first, self.second)):
            arrays[f"adam/first/{index}"], arrays[f"adam/second/{index}"] = first.numpy(), second.numpy()
        return arrays

    def restore(self, arrays):
        self.iterations.assign(arrays["adam/iterations"])
        for index, (first, second) in enumerate(zip(self.first, self.second)):
            first.assign(arrays[f"adam/first/{index}"])
            second.assign(arrays[f"adam/second/{index}"])


class LossScale:
    """Dynamic loss scaling for float16 gradients: halve on overflow (skipping the step), double after a calm spell.

    Disabled (scale 1, every step applied) when training in float32.
    """

    GROWTH_INTERVAL = 2000

    def __init__(self, enabled):
        self.enabled = enabled
        self.value = tf.Variable(2.0 ** 15 if enabled else 1.0, trainable=False)
        self.calm_steps = tf.Variable(0, dtype=tf.int64, trainable=False)

    def scale(self, loss):
        return loss * self.value if self.enabled else loss

    def apply(self, gradients, optimizer):
        if not self.enabled:
            optimizer.apply(gradients)
            return
        gradients = [tf.cast(gradient, tf.float32) / self.value for gradient in gradients]
        finite = tf.reduce_all([tf.reduce_all(tf.math.is_finite(gradient)) for gradient in gradients])
        tf.cond(finite, lambda: self._applied(gradients, optimizer), self._overflowed)

    def _applied(self, gradients, optimizer):
        optimizer.apply(gradients)
        self.calm_steps.assign_add(1)
        grow = tf.equal(self.calm_steps, self.GROWTH_INTERVAL)
        self.value.assign(tf.where(grow, self.value * 2, self.value))
        self.calm_steps.assign(tf.where(grow, tf.constant(0, tf.int64), self.calm_steps))
        return tf.constant(True)

    def _overflowed(self):
        self.value.assign(self.value / 2)
        self.calm_steps.assign(0)
        return tf.constant(False)

    def state(self):
        return {"value": float(self.value.numpy()), "calm_steps": int(self.calm_steps.numpy())}

    def restore(self, state):
        self.value.assign(state["value"])
        self.calm_steps.assign(state["calm_steps"])
