"""First-order and quasi-Newton steps for optimising an image's pixels directly.

Each optimiser takes the current image, its loss and gradient (``float32`` numpy
arrays of one shape) and the share of its full step to take, and returns the next image, clipped to ``[0, 1]``: the image
stays a valid picture at every step, so every preview is one. An optimiser keeps
state for one image size; a new one starts at each scale of a coarse-to-fine run.
"""
from collections import deque

import numpy as np


class Adam:
    """Adam (Kingma & Ba 2015) with a step of ``learning_rate`` in [0, 1] pixel units."""

    def __init__(self, learning_rate=0.02, beta1=0.9, beta2=0.99, epsilon=1e-8):
        self.learning_rate, self.beta1, self.beta2, self.epsilon = learning_rate, beta1, beta2, epsilon
        self.mean = self.variance = None
        self.steps = 0

    def step(self, image, loss, gradient, share=1.0):
        if self.mean is None:
            self.mean, self.variance = np.zeros_like(gradient), np.zeros_like(gradient)
        self.steps += 1
        self.mean = self.beta1 * self.mean + (1 - self.beta1) * gradient
        self.variance = self.beta2 * self.variance + (1 - self.beta2) * np.square(gradient)
        mean = self.mean / (1 - self.beta1 ** self.steps)
        variance = self.variance / (1 - self.beta2 ** self.steps)
        return np.clip(image - share * self.learning_rate * mean / (np.sqrt(variance) + self.epsilon), 0.0, 1.0)

    def next_scale(self, pixel_ratio):
        """A fresh optimiser for the next scale: Adam's steps do not depend on the gradient's size."""
        return Adam(self.learning_rate, self.beta1, self.beta2, self.epsilon)


class LBFGS:
    """Limited-memory BFGS by the two-loop recursion, with a fixed step of one and no line search.

    As ``torch.optim.LBFGS`` does by default, except for the first step: torch scales
    the gradient to a unit L1 norm, which barely moves a large image and so wastes
    the costliest iteration of a fine scale. Given ``step_scale`` (the previous
    scale's inverse-curvature estimate, from :meth:`next_scale`), the first step is
    ``-step_scale * gradient`` instead. Pairs whose curvature ``s.y`` is not positive
    (which the clipping can cause) are skipped, so the inverse Hessian estimate stays
    positive definite. History is float32: ten pairs take 240 MB at 1024x1024.
    """

    def __init__(self, history=10, step_scale=None):
        self.pairs = deque(maxlen=history)
        self.previous = None
        self.step_scale = step_scale

    def step(self, image, loss, gradient, share=1.0):
        gradient = gradient.ravel()
        if self.previous is not None:
            last_image, last_gradient = self.previous
            change, gradient_change = image.ravel() - last_image, gradient - last_gradient
            curvature = float(change @ gradient_change)
            if curvature > 1e-12:
                self.pairs.append((change, gradient_change, 1.0 / curvature))
                self.step_scale = curvature / float(gradient_change @ gradient_change)
        self.previous = (image.ravel().copy(), gradient)
        if self.step_scale is None:
            self.step_scale = min(1.0, 1.0 / float(np.abs(gradient).sum()))
        direction = self._direction(gradient)
        return np.clip(image + share * direction.reshape(image.shape), 0.0, 1.0)

    def next_scale(self, pixel_ratio):
        """A fresh optimiser for the next scale, ``pixel_ratio`` times as many pixels.

        The losses average over positions, so each pixel's gradient shrinks, and the
        inverse curvature grows, in proportion to the pixel count.
        """
        return LBFGS(self.pairs.maxlen, self.step_scale and self.step_scale * pixel_ratio)

    def _direction(self, gradient):
        """``-H g``: the two-loop recursion over the stored pairs, ``H0 = step_scale * I``."""
        q = -gradient
        alphas = []
        for change, gradient_change, rho in reversed(self.pairs):
            alpha = rho * float(change @ q)
            q = q - alpha * gradient_change
            alphas.append(alpha)
        q = q * self.step_scale
        for (change, gradient_change, rho), alpha in zip(self.pairs, reversed(alphas)):
            beta = rho * float(gradient_change @ q)
            q = q + (alpha - beta) * change
        return q


OPTIMISERS = {"adam": Adam, "lbfgs": LBFGS}
