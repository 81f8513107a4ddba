"""The frame loop of :func:`tfapp.video.stylize_clip`: decode, stylize, smooth and keep each frame, then encode.

Only workers and the command line import it (it loads OpenCV). A finished frame is
kept as a PNG in the work folder before the encoder sees it; on a second call the
kept frames are read back instead of stylized again, and the smoothing carries on
from the last of them, exactly as it would have, because it always works from the
finished frame as kept (8-bit RGB), never from a value a crash would lose.
"""
import os
import time
from collections import defaultdict
from fractions import Fraction

import numpy as np
from PIL import Image

from . import clips, pipeline
from .consistency import Smoother
from .video import ClipResult

#: zlib level of the kept frames: fast, and still lossless.
PNG_LEVEL = 1
#: The share of a clip's time its encoding takes, after every frame is finished (bench/video.py: 11-14 %
#: at 640x360, reading the kept frames back included); progress is reported through it too.
ENCODE_SHARE = 0.15


class ClipLoop:
    """One clip's run: the method, styles and options every frame gets, and the seconds each stage took."""

    def __init__(self, method, styles, options, consistency, frames_dir, progress, regions=None):
        self._method, self._styles, self._options, self._regions = method, styles, options, regions
        self._smoother = Smoother(consistency)
        self._frames_dir = frames_dir
        self._progress = progress
        self._seconds = defaultdict(float)
        self._latest = None

    def run(self, src, dst, info, size):
        """Write the clip ``src`` (described by ``info``) stylized at ``size`` to ``dst``; returns a ClipResult.

        Every frame is finished and kept before the first is encoded, and the encoder reads
        them all back from the work folder: an uninterrupted run and a resumed one feed it
        the very same pictures in the very same way (see ``clips.H264_OPTIONS``).
        """
        rate = _rate(info)
        count = resumed = 0
        previous_input = previous_output = None
        for index, frame in enumerate(self._timed(clips.read_frames(src, size, info.rotation, rate), "decode")):
            output, reused = self._finished(index, frame, previous_input, previous_output)
            previous_input, previous_output, self._latest = frame, output, output
            count, resumed = index + 1, resumed + reused
            self._report((1 - ENCODE_SHARE) * min(1.0, count / max(info.frames, 1)))
        self._timed_call("encode", self._encode, src if info.has_audio else None, info.start, dst, size, rate, count)
        with Image.open(self._kept(count // 2)) as kept:
            poster = kept.convert("RGB")
        return ClipResult(frames=count, fps=float(rate), width=size[0], height=size[1], poster=poster,
                          seconds=dict(self._seconds), resumed_frames=resumed, scene_cuts=self._smoother.scene_cuts)

    def _encode(self, sound_from, start, dst, size, rate, count):
        """The kept frames as an MP4 at ``dst``, written under another name and renamed once complete."""
        partial = dst.with_name(f".{dst.name}.partial.mp4")
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            with clips.Writer(partial, size, rate, sound_from, start) as writer:
                for index in range(count):
                    with Image.open(self._kept(index)) as kept:
                        writer.write(np.asarray(kept.convert("RGB")))
                    self._report(1 - ENCODE_SHARE + ENCODE_SHARE * (index + 1) / count)
            os.replace(partial, dst)
        finally:
            partial.unlink(missing_ok=True)

    def _finished(self, index, frame, previous_input, previous_output):
        """Frame ``index`` finished: read back when an earlier run kept it, else stylized, smoothed and kept."""
        kept = self._kept(index)
        if kept.is_file():
            started = time.perf_counter()
            with Image.open(kept) as image:
                output = np.asarray(image.convert("RGB"))
            self._seconds["store"] += time.perf_counter() - started
            return output, 1
        stylized = self._timed_call("stylize", self._stylize, frame)
        output = self._timed_call("flow", self._smoother.finish, stylized, frame, previous_input, previous_output)
        self._timed_call("store", self._keep, kept, output)
        return output, 0

    def _stylize(self, frame):
        result = pipeline.stylize(Image.fromarray(frame), self._styles, self._options, method=self._method,
                                  regions=self._regions)
        return np.asarray(result.image.convert("RGB"))

    def _keep(self, path, output):
        """Write the frame under a temporary name first, so a crash never leaves half a frame."""
        temporary = path.with_suffix(".partial.png")
        Image.fromarray(output).save(temporary, compress_level=PNG_LEVEL)
        os.replace(temporary, path)

    def _kept(self, index):
        return self._frames_dir / f"{index:06d}.png"

    def _report(self, fraction):
        """Tell the progress how far the clip is; it may raise Cancelled, which stops the clip there."""
        if self._progress is not None:
            self._progress.report(fraction, self._preview)

    def _preview(self):
        return (self._latest.astype(np.float32) / 255.0)[np.newaxis]

    def _timed(self, frames, stage):
        iterator = iter(frames)
        while True:
            started = time.perf_counter()
            frame = next(iterator, None)
            self._seconds[stage] += time.perf_counter() - started
            if frame is None:
                return
            yield frame

    def _timed_call(self, stage, function, *args):
        started = time.perf_counter()
        try:
            return function(*args)
        finally:
            self._seconds[stage] += time.perf_counter() - started


def _rate(info):
    """The output frame rate as an exact fraction (NTSC's 30000/1001 stays exact)."""
    return Fraction(info.fps).limit_denominator(1001)
