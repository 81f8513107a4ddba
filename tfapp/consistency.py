"""Temporal consistency for stylized clips, on the CPU with OpenCV: frames that do not flicker.

Each new stylized frame is blended with the previous *finished* frame carried
along the motion of the *input* frames (OpenCV's DIS optical flow): where the
flow can be trusted the painted strokes follow the scene instead of being redrawn
at random. Where it cannot — pixels that come into view, that the forward and
backward flows disagree on, or whose colour the warp does not reproduce — the new
frame is kept as it is, with a feathered edge. A frame where little can be
followed (a scene cut) starts afresh.
"""
import cv2
import numpy as np

#: Flow is computed with the long side at most this many pixels and scaled up: DIS's
#: ultrafast preset at this size costs a few milliseconds per frame on one core.
FLOW_SIDE = 640
#: The forward-backward check of Sundaram et al. (2010), as Ruder et al. (2016) use it:
#: a pixel is followed when |fw + bw|^2 <= SLACK * (|fw|^2 + |bw|^2) + TOLERANCE (pixels^2).
SLACK, TOLERANCE = 0.01, 0.5
#: A pixel whose input colour, warped from the previous input frame, is off by more than
#: this (mean over RGB, 0..1) is not followed: lighting changed, or the flow is wrong there.
COLOUR_TOLERANCE = 0.08
#: Below this share of followed pixels the shot changed: the frame starts afresh.
SCENE_CUT_SHARE = 0.4
#: The width, in pixels, over which the mask's edges fade (a Gaussian's kernel).
FEATHER = 9


class Flow:
    """DIS optical flow between consecutive input frames (``uint8`` RGB), and the warps it allows."""

    def __init__(self, preset=cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST):
        self._dis = cv2.DISOpticalFlow_create(preset)

    def between(self, source, target):
        """Per pixel of ``target``: where it was in ``source``, as an absolute map ``float32 [H, W, 2]``."""
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
    height, width = flow.shape[:2]
    grid = np.mgrid[0:height, 0:width].astype(np.float32)
    return cv2.remap(image, grid[1] + flow[..., 0], grid[0] + flow[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_REPLICATE)


def followed(backward, forward, previous_input, current_input):
    """``bool [H, W]``: the pixels of the current frame that the flow follows from the previous one.

    ``backward`` is current -> previous, ``forward`` previous -> current. A pixel is
    followed when it stays inside the frame, the two flows agree, and the warped
    previous input matches the current input's colour there.
    """
    height, width = backward.shape[:2]
    grid_y, grid_x = np.mgrid[0:height, 0:width].astype(np.float32)
    inside = ((grid_x + backward[..., 0] >= 0) & (grid_x + backward[..., 0] <= width - 1)
              & (grid_y + backward[..., 1] >= 0) & (grid_y + backward[..., 1] <= height - 1))
    forward_there = warp(forward, backward)
    disagreement = np.sum((backward + forward_there) ** 2, axis=-1)
    agree = disagreement <= SLACK * (np.sum(backward ** 2, -1) + np.sum(forward_there ** 2, -1)) + TOLERANCE
    colour_error = np.abs(warp(previous_input, backward).astype(np.float32) - current_input).mean(-1) / 255
    return inside & agree & (colour_error <= COLOUR_TOLERANCE)


class Smoother:
    """Blends each stylized frame with the previous finished one, carried along the input's motion.

    ``weight`` (0..1) is how much of the carried frame a followed pixel keeps; 0 leaves
    frames independent. Feed frames in order with :meth:`finish`; the state is the
    previous input and finished frame, so a clip can resume from a finished frame.
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
