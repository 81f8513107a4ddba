"""Temporal consistency for stylized clips, on the CPU with OpenCV: frames that do not flicker.

Each new stylized frame is blended with the previous *finished* frame carried
along the motion of the *input* frames (OpenCV's DIS optical flow): where the
flow can be trusted the painted strokes follow the scene instead of being redrawn
at random. Where it cannot — pixels that come into view, that the forward and
backward flows disagree on, or whose colour the warp does not reproduce — the new
frame is kept as it is, with a feathered edge. A frame where little can be
followed (a scene cut) starts afresh.
"""
import functools

import cv2
import numpy as np

#: Flow is computed with the long side at most this many pixels and scaled up: DIS's
#: "fast" preset at this size costs under 10 ms per frame on one core.
FLOW_SIDE = 640
#: The forward-backward check of Sundaram et al. (2010), as Ruder et al. (2016) use it:
#: a pixel is followed when |fw + bw|^2 <= SLACK * (|fw|^2 + |bw|^2) + TOLERANCE (pixels^2).
SLACK, TOLERANCE = 0.01, 0.5
#: A pixel whose input colour, warped from the previous input frame, is off by more than
#: this (mean over RGB, 0..1) is not followed: lighting changed, or the flow is wrong there.
COLOUR_TOLERANCE = 0.08
#: Averages an RGB difference (0..255) into one channel.
MEAN_OF_CHANNELS = np.full((1, 3), 1 / 3, np.float32)
#: Below this share of followed pixels the shot changed: the frame starts afresh.
SCENE_CUT_SHARE = 0.4
#: The width, in pixels, over which the mask's edges fade (a Gaussian's kernel).
FEATHER = 9


class Flow:
    """DIS optical flow between consecutive input frames (``uint8`` RGB), and the warps it allows."""

    def __init__(self, preset=cv2.DISOPTICAL_FLOW_PRESET_FAST):
        self._dis = cv2.DISOpticalFlow_create(preset)

    def between(self, source, target):
        """Per pixel of ``target``: how far (x, y) away it was in ``source``, in pixels, ``float32 [H, W, 2]``."""
        height, width = target.shape[:2]
        scale = min(1.0, FLOW_SIDE / max(width, height))
        small = (max(8, round(width * scale)), max(8, round(height * scale)))
        grey_target, grey_source = (cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), small,
                                               interpolation=cv2.INTER_AREA) for image in (target, source))
        flow = self._dis.calc(grey_target, grey_source, None)
        flow = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
        flow[..., 0] *= width / small[0]
        flow[..., 1] *= height / small[1]
        return flow


def warp(image, flow):
    """``image`` moved along ``flow`` (a displacement field of the target's size): bilinear, edges replicated."""
    return _remap(image, _maps(flow))


def followed(backward, forward, previous_input, current_input):
    """``bool [H, W]``: the pixels of the current frame that the flow follows from the previous one.

    ``backward`` is current -> previous, ``forward`` previous -> current. A pixel is
    followed when it stays inside the frame, the two flows agree, and the warped
    previous input matches the current input's colour there.
    """
    height, width = backward.shape[:2]
    map_x, map_y = maps = _maps(backward)
    inside = (map_x >= 0) & (map_x <= width - 1) & (map_y >= 0) & (map_y <= height - 1)
    forward_there = _remap(forward, maps)
    agree = _squared(backward + forward_there) <= SLACK * (_squared(backward) + _squared(forward_there)) + TOLERANCE
    colour_error = cv2.transform(cv2.absdiff(_remap(previous_input, maps), current_input), MEAN_OF_CHANNELS)
    return inside & agree & (colour_error <= COLOUR_TOLERANCE * 255)


def _squared(flow):
    return flow[..., 0] * flow[..., 0] + flow[..., 1] * flow[..., 1]


@functools.lru_cache(maxsize=4)
def _grid(height, width):
    """Each pixel's own x and y, ``float32`` (kept: a clip's frames all share one size)."""
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    return grid_x, grid_y


def _maps(flow):
    grid_x, grid_y = _grid(*flow.shape[:2])
    return grid_x + flow[..., 0], grid_y + flow[..., 1]


def _remap(image, maps):
    return cv2.remap(image, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


class Smoother:
    """Blends each stylized frame with the previous finished one, carried along the input's motion.

    ``weight`` (0..1) is how much of the carried frame a followed pixel keeps; 0 leaves
    frames independent. Feed frames in order with :meth:`finish`, each with the previous
    input and finished frame: nothing else is carried, so a clip can resume from a kept frame.
    """

    def __init__(self, weight, flow=None):
        self.weight = weight
        self._flow = flow or Flow()
        self.scene_cuts = 0

    def finish(self, stylized, current_input, previous_input=None, previous_output=None):
        """The finished frame (``uint8`` RGB) for ``stylized``, given the previous input and finished frame."""
        if self.weight <= 0 or previous_output is None:
            return stylized
        backward = self._flow.between(previous_input, current_input)
        forward = self._flow.between(current_input, previous_input)
        mask = followed(backward, forward, previous_input, current_input)
        if mask.mean() < SCENE_CUT_SHARE:
            self.scene_cuts += 1
            return stylized
        feathered = cv2.GaussianBlur(mask.astype(np.float32), (FEATHER, FEATHER), 0) * mask
        carried = warp(previous_output, backward).astype(np.float32)
        alpha = (self.weight * feathered)[..., None]
        blended = stylized.astype(np.float32) * (1 - alpha) + carried * alpha
        return np.clip(blended + 0.5, 0, 255).astype(np.uint8)
