"""Stylized clips: what a clip is (:func:`probe`), how long one takes, and the frame loop (:func:`stylize_clip`).

Web processes import this module for :func:`probe`, :func:`looks_like_video` and the
estimates: it imports no machine-learning library, and PyAV only when a clip is
probed. :func:`stylize_clip` (workers and the command line) decodes the clip with
PyAV (:mod:`tfapp.clips`), stylizes each frame with :func:`tfapp.pipeline.stylize`
(the style encoded once per clip), blends it with the previous finished frame along
the input's motion (:mod:`tfapp.consistency`, OpenCV) and writes an H.264 MP4 with
the clip's sound. Every finished frame is kept, losslessly, in a work folder, so a
run stopped anywhere resumes where it stopped and gives the same video.
"""
import dataclasses
import hashlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from . import conf, engines, pipeline
from .exceptions import VideoError

__all__ = ["VIDEO_EXTENSIONS", "ClipInfo", "ClipResult", "VideoError", "estimate_seconds", "looks_like_video",
           "output_size", "probe", "queue_for", "stylize_clip"]

#: The file name endings a clip may have; GIF and WebP count only when animated.
VIDEO_EXTENSIONS = (".mp4", ".mov", ".webm", ".mkv", ".gif", ".webp")
#: Still-image formats that may hold an animation: a clip only with more than one frame.
ANIMATED_IMAGE_EXTENSIONS = (".gif", ".webp")
#: The shortest side, in pixels, a clip may have: the motion of a smaller one cannot be followed.
MIN_SIDE = 16
#: Decoding, optical flow, blending, storing and encoding, in seconds per megapixel of frame:
#: bench/video.py measured 0.22-0.32 at 640x360 on the shared 2-core development machine (docs/video.md).
OVERHEAD_SECONDS_PER_MEGAPIXEL = 0.35
#: A clip goes to the fast queue when its estimate is at most this share of that queue's time limit.
FAST_QUEUE_SHARE = 0.5


@dataclass
class ClipInfo:
    """A clip as it will be stylized: display size (rotation applied), output frame rate and count."""

    width: int
    height: int
    fps: float
    frames: int
    duration: float
    rotation: int
    has_audio: bool
    codec: str
    #: When the first frame is shown, in seconds of the file's clock (its sound is aligned to it).
    start: float = 0.0


@dataclass
class ClipResult:
    """A finished clip: its frames and size, a still for the gallery, and seconds spent per stage."""

    frames: int
    fps: float
    width: int
    height: int
    poster: Image.Image
    seconds: dict = field(default_factory=dict)
    #: Frames taken from the work folder, finished by an earlier, interrupted run.
    resumed_frames: int = 0
    #: Frames where the shot changed, so the painting started afresh.
    scene_cuts: int = 0


def looks_like_video(name_or_file):
    """Whether an upload or path is a clip: a video extension, and for GIF/WebP more than one frame.

    ``name_or_file`` is a path, a name, or an open file with a ``name`` (read, then rewound).
    A bare GIF or WebP name that cannot be opened counts as a still image.
    """
    name = str(getattr(name_or_file, "name", name_or_file) or "")
    extension = os.path.splitext(name)[1].lower()
    if extension not in VIDEO_EXTENSIONS:
        return False
    if extension not in ANIMATED_IMAGE_EXTENSIONS:
        return True
    return _frame_count(name_or_file) > 1


def _frame_count(name_or_file):
    source = name_or_file if hasattr(name_or_file, "read") else Path(name_or_file)
    position = source.tell() if hasattr(source, "tell") else None
    try:
        with Image.open(source) as image:
            return getattr(image, "n_frames", 1)
    except (OSError, ValueError, Image.DecompressionBombError):
        return 0
    finally:
        if position is not None:
            source.seek(position)


def probe(path):
    """Describe the clip at ``path`` and check it against the limits. Raises VideoError (with ``.code``).

    Reads the container and every packet (not decoding them, except the first
    frame), so a file that stops short is caught here. A variable frame rate is
    accepted: the clip is resampled to its average rate (:mod:`tfapp.clips`). A long
    side above ``NST_VIDEO_MAX_SIDE`` is accepted and scaled down to it.
    """
    path = Path(path)
    size, limit = path.stat().st_size, conf.video_max_bytes()
    if size > limit:
        raise VideoError(f"The clip is {size / 1e6:.0f} MB; the limit is {limit / 1e6:.0f} MB.", "too_big_file")
    from . import clips

    stream = clips.read_stream(path)
    width, height = (stream.height, stream.width) if stream.rotation in (90, 270) else (stream.width, stream.height)
    info = ClipInfo(width=width, height=height, fps=float(stream.rate), frames=stream.frames,
                    duration=stream.duration, rotation=stream.rotation, has_audio=stream.has_audio, codec=stream.codec,
                    start=stream.start)
    _check_limits(info)
    return info


def recorded(width, height, frames):
    """A stored clip as its transfer recorded it (display size and frame count): enough to estimate and queue
    it again without reading the file, which :func:`probe` does whole. The other fields are neutral."""
    return ClipInfo(width=width, height=height, fps=0.0, frames=frames, duration=0.0, rotation=0, has_audio=False,
                    codec="")


def _check_limits(info):
    if min(info.width, info.height) < MIN_SIDE:
        raise VideoError(f"The clip is {info.width}x{info.height} pixels; each side needs at least {MIN_SIDE}.",
                         "too_small")
    if info.width * info.height > conf.max_upload_pixels():
        raise VideoError(f"The clip's frames are {info.width}x{info.height} pixels, more than the "
                         f"{conf.max_upload_pixels() / 1e6:.0f} megapixels this site decodes.", "too_large")
    if info.duration > conf.video_max_seconds():
        raise VideoError(f"The clip lasts {info.duration:.1f} s; the limit is {conf.video_max_seconds():g} s.",
                         "too_long")
    if info.frames > conf.video_max_frames():
        raise VideoError(f"The clip has {info.frames} frames; the limit is {conf.video_max_frames()}.",
                         "too_many_frames")


def output_size(info, max_size=None):
    """``(width, height)`` of the stylized clip: the long side at most ``max_size`` and ``NST_VIDEO_MAX_SIDE``
    (never enlarged), each side rounded down to even, as H.264's 4:2:0 pictures need."""
    longest = min(max_size or conf.video_max_side(), conf.video_max_side())
    scale = min(1.0, longest / max(info.width, info.height))
    return tuple(max(2, int(side * scale) // 2 * 2) for side in (info.width, info.height))


def estimate_seconds(method_class, info, quality=None, max_size=None):
    """Expected seconds to stylize clip ``info`` with ``method_class`` (a declaration): per frame, the
    method's own estimate at the output size plus :data:`OVERHEAD_SECONDS_PER_MEGAPIXEL`."""
    width, height = output_size(info, max_size)
    per_frame = method_class.estimate_seconds(width, height, quality)
    return info.frames * (per_frame + OVERHEAD_SECONDS_PER_MEGAPIXEL * width * height / 1e6)


#: The frame rate the upload page assumes for a clip's estimate: browsers tell a clip's duration, not its rate.
PAGE_ASSUMED_FPS = 30


def page_terms():
    """What the upload page's script needs to estimate a clip as :func:`estimate_seconds` does (JSON data)."""
    return {"overhead_per_megapixel": OVERHEAD_SECONDS_PER_MEGAPIXEL, "max_side": conf.video_max_side(),
            "assumed_fps": PAGE_ASSUMED_FPS}


def queue_for(method_class, info, quality=None, max_size=None):
    """The job queue for a clip: the method's own when it is "slow"; otherwise "default" while the
    estimate is at most :data:`FAST_QUEUE_SHARE` of that queue's time limit, else "slow"."""
    if method_class.queue == "slow":
        return "slow"
    fast_enough = estimate_seconds(method_class, info, quality, max_size) <= (
        FAST_QUEUE_SHARE * conf.job_time_limit("default"))
    return "default" if fast_enough else "slow"


def stylize_clip(src_path, dst_path, styles, options, *, consistency=None, work_dir, method=None, progress=None,
                 regions=None):
    """Stylize the clip ``src_path`` into an H.264 MP4 at ``dst_path``; returns a :class:`ClipResult`.

    ``styles`` and ``options`` are as :func:`tfapp.pipeline.stylize` takes them; a style
    image is encoded once for the whole clip where the method has style vectors.
    ``options.max_size`` ``None`` keeps the clip's size (up to ``NST_VIDEO_MAX_SIDE``).
    ``consistency`` is 0..1 (``None``: ``NST_VIDEO_CONSISTENCY``; 0: frames independent).
    ``work_dir`` keeps each finished frame as a PNG: called again after a crash, the
    frames there are reused and the video equals an uninterrupted run's. ``progress``
    (:class:`tfapp.methods.base.Progress`) hears of every frame and may raise
    :class:`~tfapp.exceptions.Cancelled`. ``dst_path`` appears only once complete.
    ``regions`` (a :class:`tfapp.regions.Regions` painted on the clip's picture) paint
    every frame's regions as :func:`tfapp.pipeline.stylize` does a photo's.

    Raises VideoError for an unusable clip, UnsupportedByEngine when the method cannot
    run per frame or honour a control, ValueError for malformed styles or options.
    """
    from .clip_loop import ClipLoop

    info = probe(src_path)
    consistency = conf.video_consistency() if consistency is None else float(consistency)
    if not 0.0 <= consistency <= 1.0:
        raise ValueError(f"The consistency must be between 0 and 1, not {consistency}.")
    size = output_size(info, (options or pipeline.Options()).max_size)
    options = dataclasses.replace(options or pipeline.Options(), max_size=max(size)).resolved()
    pipeline.check_video(method or engines.method_class(options.method))
    method = method or engines.get(options.method)
    weighted = pipeline.normalised_styles(styles) if regions is None else pipeline.region_styles(styles, regions)
    styles = _encoded_once(weighted, method, options)
    pipeline.check_supported(method, styles, options, regions)
    frames_dir = _prepared_work_dir(Path(work_dir),
                                    _fingerprint(src_path, styles, options, consistency, method, regions))
    loop = ClipLoop(method, styles, options, consistency, frames_dir, progress, regions)
    started = time.perf_counter()
    result = loop.run(Path(src_path), Path(dst_path), info, size)
    result.seconds["total"] = time.perf_counter() - started
    return result


def _encoded_once(weighted_styles, method, options):
    """Each style image replaced by its style vector where the method takes them: one prediction per clip."""
    if not method.capabilities.style_vectors:
        return weighted_styles
    return [(pipeline.style_vector_of(style, options.style_size, options.style_pooling, method)
             if isinstance(style, Image.Image) else style, weight) for style, weight in weighted_styles]


def _fingerprint(src_path, styles, options, consistency, method, regions):
    """A digest of everything a finished frame depends on, so a work folder is never reused for another job."""
    digest = hashlib.sha256()
    with open(src_path, "rb") as clip:
        for block in iter(lambda: clip.read(1 << 20), b""):
            digest.update(block)
    for style, weight in styles:
        digest.update(style.tobytes())
        digest.update(repr(weight).encode())
    settings = {"options": dataclasses.asdict(options), "consistency": consistency, "method": method.name,
                "engine": method.engine}
    if regions is not None:
        digest.update(regions.png())
        settings["regions"] = {"styles": regions.styles, "feather": regions.feather}
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def _prepared_work_dir(work_dir, fingerprint):
    """``work_dir``'s frame folder, emptied first when it holds frames of another clip or settings."""
    frames_dir = work_dir / "frames"
    marker = work_dir / "fingerprint"
    if not marker.is_file() or marker.read_text() != fingerprint:
        if frames_dir.is_dir():
            for stale in frames_dir.iterdir():
                stale.unlink()
        work_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(fingerprint)
    frames_dir.mkdir(exist_ok=True)
    return frames_dir
