"""Short clips written in code with PyAV, for the video tests and bench/video.py.

The picture is a textured scene sliding by a known number of pixels per frame, so
the true motion between frames is known; each clip is deterministic.
"""
import fractions

import av
import numpy as np

MILLISECOND = fractions.Fraction(1, 1000)


def scene(width, height, seed=0):
    """A textured RGB scene (``uint8`` ``[height, width, 3]``): blobs of colour over stripes, with edges to follow."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    picture = np.stack([128 + 90 * np.sin(x / 7.0), 128 + 90 * np.sin(y / 5.0), 128 + 90 * np.sin((x + y) / 11.0)], -1)
    for _ in range(max(4, width * height // 800)):
        cx, cy, radius = rng.uniform(0, width), rng.uniform(0, height), rng.uniform(3, max(4, width / 6))
        inside = (x - cx) ** 2 + (y - cy) ** 2 < radius ** 2
        picture[inside] = rng.uniform(0, 255, 3)
    return picture.clip(0, 255).astype(np.uint8)


def moving_frames(width, height, count, shift=(2, 1), seed=0):
    """``count`` frames of :func:`scene` panned by ``shift`` = (dx, dy) pixels per frame (a window over a wider scene)."""
    dx, dy = shift
    margin_x, margin_y = abs(dx) * count, abs(dy) * count
    wide = scene(width + margin_x, height + margin_y, seed)
    for index in range(count):
        left = index * dx if dx >= 0 else margin_x + index * dx
        top = index * dy if dy >= 0 else margin_y + index * dy
        yield wide[top:top + height, left:left + width]


def write_clip(path, frames, fps=10, codec="libx264", audio=None, rotation=0, container_format=None,
               pixel_format="yuv420p", times=None):
    """Write ``frames`` (``uint8`` RGB arrays) to ``path``; ``audio`` is None or a codec name ("aac", "mp3", "libopus").

    The audio is a 440 Hz tone from 0 s to the end of the picture; ``rotation`` sets the display matrix
    (degrees counter-clockwise), as phones record portrait clips; ``times`` (seconds, one
    per frame) makes the frame rate variable. Returns ``path``.
    """
    frames = list(frames)
    height, width = frames[0].shape[:2]
    with av.open(str(path), "w", format=container_format) as output:
        video = output.add_stream(codec, rate=fractions.Fraction(fps).limit_denominator(1001))
        video.width, video.height, video.pix_fmt = width, height, pixel_format
        if rotation:
            video.set_display_rotation(rotation)
        sound = output.add_stream(audio, rate=48000) if audio else None
        if times:
            video.codec_context.time_base = video.time_base = MILLISECOND
        for index, frame in enumerate(frames):
            picture = av.VideoFrame.from_ndarray(frame, "rgb24")
            if times:
                picture.pts, picture.time_base = round(times[index] * 1000), MILLISECOND
            for packet in video.encode(picture):
                output.mux(packet)
        for packet in video.encode():
            output.mux(packet)
        if sound:
            write_tone(output, sound, times[-1] + 1 / fps if times else len(frames) / fps)
    return path


def write_tone(output, sound, seconds):
    """Encode ``seconds`` of a 440 Hz tone into the audio stream ``sound`` of ``output``."""
    rate = sound.codec_context.sample_rate
    samples = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype(np.float32)
    chunk = sound.codec_context.frame_size or 1024
    for start in range(0, len(samples), chunk):
        piece = samples[start:start + chunk]
        frame = av.AudioFrame.from_ndarray(piece[None, :], format="flt", layout="mono")
        frame.sample_rate, frame.pts = rate, start
        for packet in sound.encode(frame):
            output.mux(packet)
    for packet in sound.encode():
        output.mux(packet)


def decoded_frames(path):
    """Every frame of ``path`` as ``uint8`` RGB arrays, in order (rotation not applied)."""
    with av.open(str(path)) as clip:
        return [frame.to_ndarray(format="rgb24") for frame in clip.decode(video=0)]
