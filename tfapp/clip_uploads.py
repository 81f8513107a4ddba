"""A clip sent as a transfer's content: checked with :func:`tfapp.video.probe`, stored with its first frame.

The upload page and the API take a clip in the photo's field. Its first frame is
stored as the transfer's ``content_image``, so every page, list and preview that
shows a transfer's photo shows the clip's still; the clip itself is ``content_clip``.
PyAV is imported only here and in :mod:`tfapp.video` (no OpenCV, no ML library).
"""
import io
import os
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from PIL import Image

from . import video
from .imaging import encode_png
from .processing import ImageInput


@dataclass
class ClipInput:
    """A checked clip to store: its file, its probed :class:`~tfapp.video.ClipInfo` and its first frame."""

    input: ImageInput
    info: video.ClipInfo
    still: ImageInput


def is_clip(upload):
    """Whether an uploaded file is sent as a clip (a video container, or an animated GIF/WebP)."""
    return video.looks_like_video(upload)


def clip_from_upload(upload):
    """The ClipInput of an uploaded clip, without its metadata; a ValidationError with the VideoError's code
    when it is refused."""
    with _local_path(upload) as path:
        info, still = _checked(path)
        try:
            clip = without_metadata(path, os.path.splitext(upload.name or "")[1].lower())
        except video.VideoError as error:
            raise ValidationError(str(error), code=error.code) from error
    return ClipInput(clip, info, still)


def without_metadata(path, extension):
    """The clip at ``path`` as an ImageInput with no metadata (a phone's clip says where it was filmed).

    A video's pictures and sound are copied, not re-encoded, into a Matroska file,
    which holds any codec and keeps the rotation; the container's and streams' tags
    stay behind. An animated GIF or WebP is kept as it is (they carry no location).
    """
    if extension in video.ANIMATED_IMAGE_EXTENSIONS:
        with open(path, "rb") as clip:
            return ImageInput(ContentFile(clip.read()), extension)
    import av

    copy = io.BytesIO()
    try:
        with av.open(path, metadata_errors="ignore") as source, av.open(copy, "w", format="matroska") as target:
            kept = [stream for stream in source.streams if stream.type in ("video", "audio")]
            streams = {stream.index: target.add_stream_from_template(stream) for stream in kept}
            for stream in streams.values():
                stream.metadata.clear()
            for packet in source.demux(*kept):
                if packet.dts is not None:
                    packet.stream = streams[packet.stream.index]
                    target.mux(packet)
    except (av.FFmpegError, ValueError) as error:
        raise video.VideoError("The clip could not be stored: its streams do not fit a Matroska file.",
                               "unsupported_codec") from error
    return ImageInput(ContentFile(copy.getvalue()), ".mkv")


def clip_from_stored(field):
    """The ClipInput of a stored clip (a re-run's); a ValidationError when it is missing or no longer allowed."""
    try:
        info, still = _checked(field.path)
        with field.open("rb") as stored:
            data = stored.read()
    except OSError as error:
        raise ValidationError("The clip of the transfer to re-run is missing; upload it again.",
                              code="missing_file") from error
    return ClipInput(ImageInput(ContentFile(data), os.path.splitext(field.name)[1]), info, still)


def _checked(path):
    try:
        info = video.probe(path)
        still = first_frame(path, info)
    except video.VideoError as error:
        raise ValidationError(str(error), code=error.code) from error
    return info, ImageInput(ContentFile(encode_png(still)), ".png")


def first_frame(path, info):
    """The clip's first frame as the job will see it: an RGB image, upright, at the clip's display size."""
    from . import clips

    frames = clips.read_frames(path, (info.width, info.height), info.rotation, info.fps)
    try:
        return Image.fromarray(next(frames))
    except StopIteration as error:
        raise video.VideoError("The clip has no frame that could be decoded.", "no_frames") from error
    finally:
        frames.close()


@contextmanager
def _local_path(upload):
    """A path on disk holding the upload: Django's temporary file, or a copy of one held in memory."""
    if hasattr(upload, "temporary_file_path"):
        yield upload.temporary_file_path()
        return
    upload.seek(0)
    with tempfile.NamedTemporaryFile(suffix=os.path.splitext(upload.name or "")[1]) as copy:
        for chunk in upload.chunks():
            copy.write(chunk)
        copy.flush()
        yield copy.name
