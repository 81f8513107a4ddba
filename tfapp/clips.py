"""Reading and writing clips with PyAV (FFmpeg in its wheel): the probe, the frames, the H.264 MP4.

Frames come out as ``uint8`` RGB arrays at the size the clip is stylized at, the
display rotation applied, one per tick of the clip's average frame rate: a clip
with a variable frame rate is resampled to its average rate (a frame repeated
across a gap, one of two in the same tick dropped), so the output plays at a
constant rate in step with the sound.
"""
import fractions
from dataclasses import dataclass

import av
import numpy as np
from PIL import Image

from .exceptions import VideoError

#: The first bytes of each container a clip may come in: a file with one of them that
#: FFmpeg cannot read is a truncated clip; without, it is not a video at all.
SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"GIF8"), (8, b"WEBP"))
#: Audio codecs an MP4 holds as they are; others are re-encoded to AAC.
MP4_AUDIO = ("aac", "mp3")
#: x264's constant quality (lower is better; 18-23 looks like the source) and speed preset. A
#: resumed clip must come out bit for bit alike: x264's output depends on its thread count, and
#: (seen here) on where each picture lies in memory unless ``cpu-independent`` is set.
H264_OPTIONS = {"crf": "20", "preset": "veryfast", "threads": "1", "x264-params": "cpu-independent=1"}
#: How long a WebP frame that states no duration stays on screen.
DEFAULT_WEBP_MILLISECONDS = 100
AAC_RATE = 48000
AAC_BITRATE = 160_000


@dataclass
class Stream:
    """What :func:`read_stream` learns of a clip's video stream, before any limit is applied."""

    width: int
    height: int
    rate: fractions.Fraction
    frames: int
    duration: float
    rotation: int
    has_audio: bool
    codec: str
    #: When the first frame is shown, in seconds of the container's clock (the sound is aligned to it).
    start: float = 0.0


def read_stream(path):
    """Open ``path`` and describe its video stream. Raises VideoError for what is not a readable clip."""
    if _is_webp(path):
        return _webp_stream(path)
    container = _open(path)
    with container:
        if not container.streams.video:
            kind = "only sound" if container.streams.audio else "no video stream"
            raise VideoError(f"The file has {kind}; upload a clip with pictures.", "no_video_stream")
        stream = container.streams.video[0]
        codec = stream.codec_context.name if stream.codec_context else "none"
        first = _first_frame(container, stream, codec)
        rate = stream.average_rate or stream.guessed_rate
        if not rate:
            raise VideoError("The clip does not say how fast its frames play.", "no_frames")
        first_time, last_time = _frame_times(container, stream, path)
        duration = round(last_time - first_time + 1 / float(rate), 3)
        return Stream(width=first.width, height=first.height, rate=fractions.Fraction(rate),
                      frames=round((last_time - first_time) * rate) + 1, duration=duration,
                      rotation=_rotation(first), has_audio=bool(container.streams.audio), codec=codec,
                      start=first_time)


def _open(path):
    try:
        return av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError as error:
        if _has_video_signature(path):
            raise VideoError("The clip is cut short or damaged: it could not be opened.", "truncated") from error
        raise VideoError("The file is not a video FFmpeg can read.", "not_video") from error


def _has_video_signature(path):
    with open(path, "rb") as file:
        head = file.read(16)
    return any(head[offset:offset + len(magic)] == magic for offset, magic in SIGNATURES)


def _first_frame(container, stream, codec):
    if stream.codec_context is None or codec == "none":
        raise VideoError("The clip's video codec is not one this site can decode.", "unsupported_codec")
    try:
        for frame in container.decode(stream):
            return frame
    except av.FFmpegError as error:
        raise VideoError(f"The clip's {codec} pictures could not be decoded: {error.strerror}.",
                         "truncated") from error
    raise VideoError("The clip has a video stream but no frames in it.", "no_frames")


def _frame_times(container, stream, path):
    """The first and last presentation times (seconds) over all of the stream's packets (read, not decoded)."""
    container.seek(0)
    times, count = [], 0
    try:
        for packet in container.demux(stream):
            if packet.size and packet.pts is not None:
                times.append(float(packet.pts * stream.time_base))
                count += 1
    except av.FFmpegError as error:
        raise VideoError("The clip is cut short or damaged: its frames could not all be read.", "truncated") from error
    if stream.frames and count < stream.frames:
        raise VideoError(f"The clip is cut short: {count} of its {stream.frames} frames are there.", "truncated")
    if not times:
        raise VideoError("The clip has a video stream but no frames in it.", "no_frames")
    return min(times), max(times)


def _rotation(frame):
    """The display rotation, counter-clockwise degrees in 0, 90, 180, 270 (FFmpeg's display matrix)."""
    return round((frame.rotation or 0) / 90) % 4 * 90


def read_frames(path, size, rotation, rate):
    """The frames of ``path`` as ``uint8`` RGB ``[height, width, 3]`` of ``size`` = (width, height) after rotation.

    One frame per tick of ``rate`` (see the module's docstring); streamed, one frame at a time.
    Raises VideoError when a frame cannot be decoded.
    """
    timed = _webp_pictures(path, size) if _is_webp(path) else _pictures(path, size, rotation)
    next_slot, start, previous = 0, None, None
    for seconds, picture in timed:
        start = seconds if start is None else start
        slot = round((seconds - start) * rate)
        if slot < next_slot:
            continue
        for _ in range(slot - next_slot):
            yield previous  # a gap: the last frame stays on screen until this one's time
        previous = np.ascontiguousarray(picture)
        yield previous
        next_slot = slot + 1


def _pictures(path, size, rotation):
    """``(seconds, picture)`` for each frame FFmpeg decodes, scaled to ``size`` and turned upright."""
    width, height = size
    coded = (height, width) if rotation in (90, 270) else (width, height)
    with av.open(str(path), metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(_decoded(container, stream)):
            seconds = float(frame.time) if frame.time is not None else index / float(stream.guessed_rate or 1)
            yield seconds, np.rot90(frame.to_ndarray(width=coded[0], height=coded[1], format="rgb24",
                                                     interpolation="AREA"), rotation // 90)


def _decoded(container, stream):
    try:
        yield from container.decode(stream)
    except av.FFmpegError as error:
        raise VideoError(f"The clip is damaged: a frame could not be decoded ({error.strerror}).",
                         "truncated") from error


def _is_webp(path):
    """Animated WebP is read with Pillow: the FFmpeg in PyAV's wheel does not decode its animation chunks."""
    with open(path, "rb") as file:
        head = file.read(12)
    return head[:4] == b"RIFF" and head[8:12] == b"WEBP"


def _webp_frames(path):
    """``(start in seconds, Pillow frame)`` for each frame of a WebP file; raises VideoError when it is damaged."""
    try:
        with Image.open(path) as animation:
            elapsed = 0
            for index in range(getattr(animation, "n_frames", 1)):
                animation.seek(index)
                animation.load()  # Pillow reads a frame's duration with its pixels
                yield elapsed / 1000, animation
                elapsed += animation.info.get("duration") or DEFAULT_WEBP_MILLISECONDS
    except (OSError, ValueError, EOFError) as error:
        raise VideoError(f"The WebP animation is damaged: {error}.", "truncated") from error


def _webp_stream(path):
    count = 0
    for start, frame in _webp_frames(path):
        count, last_start, size = count + 1, start, frame.size
        last_length = (frame.info.get("duration") or DEFAULT_WEBP_MILLISECONDS) / 1000
    duration = last_start + last_length
    rate = fractions.Fraction(count / duration).limit_denominator(1001)
    return Stream(width=size[0], height=size[1], rate=rate, frames=round(last_start * rate) + 1, duration=duration,
                  rotation=0, has_audio=False, codec="webp")


def _webp_pictures(path, size):
    for start, frame in _webp_frames(path):
        yield start, np.asarray(frame.convert("RGB").resize(size, Image.Resampling.BOX))


class Writer:
    """Writes an H.264 MP4 (yuv420p, ``+faststart``) at ``rate``, with ``audio_from``'s sound when it has one.

    ``start`` is when, in ``audio_from``, the first frame written was shown (seconds).

    Used as a context manager; :meth:`write` takes ``uint8`` RGB frames of ``size``.
    The sound is copied where MP4 holds its codec, re-encoded to AAC otherwise, and
    interleaved with the pictures as they are written.
    """

    def __init__(self, path, size, rate, audio_from=None, start=0.0):
        self._output = av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"})
        self._video = self._output.add_stream("libx264", rate=rate, options=dict(H264_OPTIONS))
        self._video.width, self._video.height = size
        self._video.pix_fmt = "yuv420p"
        self._rate = rate
        self._written = 0
        self._sound = _Sound(self._output, audio_from, start) if audio_from else None

    def __enter__(self):
        return self

    def write(self, picture):
        frame = av.VideoFrame.from_ndarray(picture, format="rgb24")
        frame.pts = self._written
        self._mux(self._video.encode(frame))
        self._written += 1
        if self._sound:
            self._sound.copy_until(self._written / self._rate)

    def __exit__(self, kind, error, traceback):
        try:
            if kind is None:
                self._mux(self._video.encode())
                if self._sound:
                    self._sound.finish()
        finally:
            if self._sound:
                self._sound.close()
            self._output.close()

    def _mux(self, packets):
        for packet in packets:
            self._output.mux(packet)


class _Sound:
    """The first audio stream of a clip, carried into an output container in step with its pictures.

    The output's pictures start at the clip's first frame (``start`` seconds into the
    clip), so the sound is moved by as much: what came before is left out, except the
    packet just before, which an AAC decoder needs to start cleanly.
    """

    def __init__(self, output, path, start):
        self._output = output
        self._input = av.open(str(path), metadata_errors="ignore")
        source = self._input.streams.audio[0]
        self._copy = source.codec_context.name in MP4_AUDIO
        if self._copy:
            self._stream = output.add_stream_from_template(source)
        else:
            self._stream = output.add_stream("aac", rate=AAC_RATE)
            self._stream.bit_rate = AAC_BITRATE
            self._resampler = av.AudioResampler(format="fltp", layout="stereo", rate=AAC_RATE,
                                                frame_size=self._stream.codec_context.frame_size or 1024)
        self._packets = (packet for packet in self._input.demux(source) if packet.dts is not None)
        self._shift = round(start / source.time_base)
        self._pending = self._before = None

    def copy_until(self, seconds):
        """Mux the sound up to ``seconds`` after the first frame."""
        while True:
            packet = self._pending or next(self._packets, None)
            self._pending = None
            if packet is None:
                return
            if packet.pts + (packet.duration or 0) <= self._shift:
                self._before = packet  # before the first frame: kept only as the one before what plays
                continue
            if float((packet.pts - self._shift) * packet.time_base) > seconds:
                self._pending = packet
                return
            if self._before is not None:
                self._carry(self._before)
                self._before = None
            self._carry(packet)

    def finish(self):
        self.copy_until(float("inf"))
        if not self._copy:
            for frame in self._resampler.resample(None):
                self._output.mux(self._stream.encode(frame))
            self._output.mux(self._stream.encode(None))

    def close(self):
        self._input.close()

    def _carry(self, packet):
        if self._copy:
            packet.pts, packet.dts = packet.pts - self._shift, packet.dts - self._shift
            packet.stream = self._stream
            self._output.mux(packet)
            return
        for frame in packet.decode():
            frame.pts = None
            for resampled in self._resampler.resample(frame):
                self._output.mux(self._stream.encode(resampled))
