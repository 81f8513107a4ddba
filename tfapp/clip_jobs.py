"""Where a clip's job keeps its work: the finished frames, kept until the clip is done, and the MP4 it writes.

A clip's transfer runs as every transfer does (:mod:`tfapp.processing`); the frames
:func:`tfapp.video.stylize_clip` finishes are kept in its work folder,
``transfers/<id>/work/``, as they are made, so the attempt that follows a killed
worker passes the same folder and resumes from them. The folder goes once the clip is
done, failed, cancelled or deleted (:func:`remove_frames`). Frames and the MP4 are written by path, so the
media storage must be a local folder (Django's FileSystemStorage, the default).
"""
import os
import shutil
from functools import partial

from django.db import transaction

from . import video


def frames_folder(transfer):
    """The storage name of the work folder a clip's finished frames are kept in."""
    return f"transfers/{transfer.public_id}/work"


def remove_frames(transfer):
    """Delete the clip's kept frames, if any."""
    shutil.rmtree(transfer.content_image.storage.path(frames_folder(transfer)), ignore_errors=True)


def remove_frames_of_deleted(sender, instance, **kwargs):
    """``post_delete`` of a transfer: its frames folder goes once the deletion commits (before its folder)."""
    if instance.content_clip:
        transaction.on_commit(partial(remove_frames, instance))


def stylize(transfer, styles, options, method, progress, regions=None):
    """Stylize the transfer's clip into an MP4 of this attempt; returns ``(ClipResult, its storage name)``.

    The MP4 is named by attempt, so a retry never writes over a killed attempt's
    unfinished file (which the retry's cleanup deletes).
    """
    storage = transfer.result_clip.storage
    name = f"transfers/{transfer.public_id}/result-{transfer.attempts}.mp4"
    work_dir = storage.path(frames_folder(transfer))
    os.makedirs(work_dir, exist_ok=True)
    try:
        result = video.stylize_clip(transfer.content_clip.path, storage.path(name), styles, options,
                                    consistency=transfer.consistency, work_dir=work_dir, method=method,
                                    progress=progress, regions=regions)
    except BaseException:
        storage.delete(name)  # an MP4 stopped half-way
        raise
    return result, name
