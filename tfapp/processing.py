"""Creating transfers and running them in a worker. Knows the database, not requests.

A transfer is a job (:mod:`tfapp.jobs`): a worker claims it, a side thread stamps its
heartbeat, and every later write is conditional on this attempt still owning it, so
a worker presumed dead (and its transfer handed to another) can never overwrite the
newer attempt; it deletes what it wrote instead. What is a transfer's own is here:
storing its inputs, running the method, its result, previews and progress.
"""
import logging
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass, field

from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from PIL import Image

from . import clip_jobs, conf, engines, jobs, pipeline
from . import regions as region_masks
from .exceptions import Cancelled, InvalidImage, StyleTransferError
from .imaging import THUMBNAIL_SIZE, encode_png, encode_thumbnail, open_image, tensor2image
from .methods.base import Progress
from .models import Transfer, TransferStyle
from .presets import style_input

logger = logging.getLogger(__name__)

OUT_OF_MEMORY = "The server ran out of memory while stylizing this image. Try a smaller output size."
UNEXPECTED_ERROR = "Something unexpected stopped this transfer. It has been logged; please try again."
TOO_SLOW = "This transfer took longer than the {limit:.0f} s limit. Try a smaller output size."
TAKEN_OVER = "This attempt no longer owns the transfer (it was cancelled, or given to another worker)."

#: Least seconds between two progress writes of a running transfer.
PROGRESS_INTERVAL = 1.0

#: Long side of the previews stored while a transfer runs (results are at most this size by default).
PREVIEW_SIZE = 1024


@dataclass
class ImageInput:
    """An image to store: its file (an upload or bytes) and the extension of its format."""

    file: object
    extension: str

    @classmethod
    def from_upload(cls, upload):
        """From a file cleaned by ImageUploadField, which stored it upright, without metadata (see tfapp.metadata)."""
        data, extension = upload.without_metadata
        return cls(ContentFile(data), extension)

    @classmethod
    def from_stored(cls, field):
        """From a stored file (a preset's image, or an input of an earlier transfer)."""
        with field.open("rb") as stored:
            return cls(ContentFile(stored.read()), os.path.splitext(field.name)[1])

    def size(self):
        """The image's ``(width, height)`` as stored (an upload is stored upright), read from its header."""
        self.file.seek(0)
        with Image.open(self.file) as image:
            size = image.size
        self.file.seek(0)
        return size


@dataclass
class ClipChoice:
    """The clip of a new clip transfer: its file, its frames, the consistency it asks for and its queue."""

    input: ImageInput
    frames: int
    consistency: float
    queue: str


@dataclass
class StyleChoice:
    """One style of a new transfer and its blending weight; ``preset`` when it is a preset."""

    input: ImageInput
    weight: float = 1.0
    preset: object = None
    #: Vectors already computed for this painting (see :mod:`tfapp.presets`), copied from a re-run's source.
    style_vectors: dict = field(default_factory=dict)


def create_transfer(content, styles, options, client="", ownership=None, inputs_id=None, regions=None, clip=None):
    """Store the content and styles (ImageInput, StyleChoice list) as a queued transfer of ``options.method``.

    ``regions`` (a :class:`tfapp.regions.Regions` read against ``content`` and
    ``styles``) are stored as its mask PNG, region styles and feather. ``ownership``
    (a tfapp.ownership.Ownership) says whose it is; without one it
    belongs to nobody but staff. ``inputs_id`` marks it as the same inputs as earlier
    transfers (run with other methods). ``clip`` (a :class:`ClipChoice`) makes it a
    clip's transfer, ``content`` then being the clip's first frame. Either the rows
    and all their files are written, or nothing is.
    """
    resolved = options.resolved()
    method = engines.method_class(resolved.method)
    owner_fields = ownership.fields() if ownership else {}
    transfer = Transfer(queue=method.queue, engine=method.engine, client=client, **owner_fields,
                        **option_fields(resolved))
    if inputs_id:
        transfer.inputs_id = inputs_id
    if clip:
        transfer.queue, transfer.consistency, transfer.frames_total = clip.queue, clip.consistency, clip.frames
    written = []
    try:
        with transaction.atomic():
            _store(transfer.content_image, "content", content, written)
            if regions is not None:
                _store_regions(transfer, regions, written)
            if clip:
                _store(transfer.content_clip, "content", clip.input, written)
            transfer.save()
            for position, choice in enumerate(styles):
                style = TransferStyle(transfer=transfer, position=position, weight=choice.weight,
                                      preset=choice.preset, style_vectors=choice.style_vectors)
                _store(style.image, f"style-{position + 1}", choice.input, written)
                style.save()
    except Exception:
        for stored in written:
            stored.storage.delete(stored.name)
        raise
    return transfer


def _store_regions(transfer, painted, written):
    """Record painted regions on a new transfer: the mask as a PNG at the photo's size, and what each region gets."""
    transfer.region_styles = region_styles_text(painted)
    transfer.feather = painted.feather
    _store(transfer.regions_mask, "regions", ImageInput(ContentFile(painted.png()), ".png"), written)


def region_styles_text(painted):
    """Regions' styles as stored and sent: 1-based positions or ``keep``, region 0 first (``2,1,keep``)."""
    return ",".join(region_masks.KEEP if style is None else str(style + 1) for style in painted.styles)


def stored_regions(transfer, photo_size):
    """The Regions a transfer was stored with, read for its photo opened at ``photo_size``; None without any.

    Raises RegionError (a StyleTransferError) when its mask is missing or can no longer be read.
    """
    if not transfer.regions_mask:
        return None
    try:
        with transfer.regions_mask.open("rb") as mask:
            painted = mask.read()
    except OSError as error:
        raise region_masks.RegionError("The regions painted for this transfer are missing; paint them again.",
                                       "mask_missing") from error
    return region_masks.build(painted, photo_size, transfer.styles.count(), transfer.region_styles, transfer.feather)


def _store(field, name, image_input, written):
    """Save an input's file in ``field``, adding it to ``written``.

    The file gets its name first: Django reads an ImageField's width and height
    only from a named file, and a transfer stored without them has its photo
    opened again each time it is loaded.
    """
    filename = f"{name}{image_input.extension}"
    image_input.file.name = filename
    field.save(filename, image_input.file, save=False)
    written.append(field)


def run_transfer(transfer_id):
    """Claim a queued transfer, stylize it and record the result, timings or error on it.

    Does nothing when the transfer is not queued (another worker took it, or it was deleted).
    In a worker the model call and the end (storing the result and the previews) run on
    the worker's stages (see :func:`tfapp.jobs.run_in_stages`), while it claims and reads
    the next transfer; this transfer stays claimed, its heartbeat beating, until its end is done.
    """
    transfer = jobs.claim(Transfer, transfer_id)
    if transfer is None:
        logger.info("Transfer %s is no longer queued; skipping it.", transfer_id)
        return
    with ExitStack() as running:
        heartbeat = running.enter_context(jobs.Heartbeat(transfer, f"transfer {transfer.public_id}"))
        progress = TransferProgress(transfer, heartbeat.lost)
        stylize = _attempt(transfer, progress, lambda: _prepare(transfer, progress))
        if stylize is None:
            return
        beating = running.pop_all()

    def end(store):
        with beating:
            images = _attempt(transfer, progress, store)
        if images:
            _store_previews(transfer, *images)

    jobs.run_in_stages(lambda: _attempt(transfer, progress, stylize), end, beating.close)


def _attempt(transfer, progress, step):
    """Run a step of a claimed transfer, recording the outcome if it fails; returns its result, None if it failed."""
    try:
        return step()
    except Cancelled:
        logger.info("Transfer %s stopped: %s", transfer.public_id, TAKEN_OVER)
        progress.discard()
        _remove_frames_unless_retried(transfer)
    except StyleTransferError as error:
        logger.warning("Transfer %s failed: %s", transfer.public_id, error)
        _fail(transfer, str(error), progress)
    except MemoryError:
        logger.warning("Transfer %s ran out of memory.", transfer.public_id)
        _fail(transfer, OUT_OF_MEMORY, progress)
    except Exception:
        logger.exception("Transfer %s failed unexpectedly.", transfer.public_id)
        _fail(transfer, UNEXPECTED_ERROR, progress)
    return None


def option_fields(resolved):
    """The columns a transfer stores resolved ``Options`` in; :func:`transfer_options` reads them back."""
    return {"method": resolved.method, "quality": resolved.quality or "", "max_size": resolved.max_size,
            "style_size": resolved.style_size, "style_pooling": resolved.style_pooling,
            "strength": round(resolved.strength * 100), "preserve_colours": resolved.preserve_colours}


def transfer_options(transfer):
    """The pipeline options a stored transfer asks for, as :func:`option_fields` stored them."""
    return pipeline.Options(method=transfer.method, quality=transfer.quality or None,
                            max_size=transfer.max_size, style_size=transfer.style_size,
                            style_pooling=transfer.style_pooling, strength=transfer.strength / 100,
                            preserve_colours=transfer.preserve_colours)


def _prepare(transfer, progress):
    """Read a claimed transfer's inputs; returns its model call, which returns its end: a call that stores the result.

    That end returns the (content, result) images for the previews, or None when the
    result was not recorded (the transfer was taken over meanwhile).
    """
    started = time.monotonic()
    method = engines.get(transfer.method)
    options = transfer_options(transfer)
    styles = list(transfer.styles.all())

    def style_inputs():
        # With the model: a new painting's style vector is computed here, by the model's stage.
        return [(style_input(style, method, options), style.weight) for style in styles]

    if transfer.is_clip:
        def stylize_clip():
            images = _stylize_clip_into(transfer, style_inputs(), options, method, progress, started)
            return lambda: images
        return stylize_clip
    with transfer.content_image.open("rb") as content_file:
        content_image = open_image(content_file, needed_side=options.max_size)
    painted = stored_regions(transfer, content_image.size)

    def stylize():
        stylized = pipeline.stylize(content_image, style_inputs(), options, method, progress, regions=painted)
        logger.info("Transfer %s stylized by attempt %d.", transfer.public_id, transfer.attempts)
        return lambda: _store_result(transfer, method, started, content_image, stylized, progress)
    return stylize


def _store_result(transfer, method, started, content_image, stylized, progress):
    limit = conf.job_time_limit(transfer.queue)
    if time.monotonic() - started > limit:
        raise StyleTransferError(TOO_SLOW.format(limit=limit))
    encode_started = time.perf_counter()
    transfer.result_image.save("result.png", ContentFile(encode_png(stylized.image)), save=False)
    # The engine is the worker's: the web process only guessed it from its own settings.
    recorded = _record(transfer, Transfer.Status.DONE, engine=method.engine,
                       result_image=transfer.result_image.name, result_width=stylized.image.width,
                       result_height=stylized.image.height, preprocess_seconds=stylized.preprocess_seconds,
                       model_seconds=stylized.model_seconds, encode_seconds=time.perf_counter() - encode_started,
                       progress=1.0, preview_image="")
    progress.discard()
    return (content_image, stylized.image) if recorded else None


def _stylize_clip_into(transfer, styles, options, method, progress, started):
    """A clip's job: its MP4 in ``result_clip``, a finished frame as the poster in ``result_image``."""
    painted = stored_regions(transfer, (transfer.content_width, transfer.content_height))
    clip, name = clip_jobs.stylize(transfer, styles, options, method, progress, painted)
    transfer.result_clip.name = name
    logger.info("Transfer %s: %d frames stylized by attempt %d, %d of them resumed from an earlier attempt.",
                transfer.public_id, clip.frames, transfer.attempts, clip.resumed_frames)
    limit = conf.job_time_limit(transfer.queue)
    if time.monotonic() - started > limit:
        raise StyleTransferError(TOO_SLOW.format(limit=limit))
    encode_started = time.perf_counter()
    transfer.result_image.save("result.png", ContentFile(encode_png(clip.poster)), save=False)
    seconds = clip.seconds
    recorded = _record(transfer, Transfer.Status.DONE, engine=method.engine, result_clip=name,
                       result_image=transfer.result_image.name, result_width=clip.width, result_height=clip.height,
                       preprocess_seconds=seconds.get("decode", 0.0) + seconds.get("flow", 0.0),
                       model_seconds=seconds.get("stylize", 0.0),
                       encode_seconds=seconds.get("encode", 0.0) + time.perf_counter() - encode_started,
                       frames_done=clip.frames, progress=1.0, preview_image="")
    progress.discard()
    if not recorded:
        _remove_frames_unless_retried(transfer)
        return None
    clip_jobs.remove_frames(transfer)
    with transfer.content_image.open("rb") as content_file:
        return open_image(content_file, needed_side=THUMBNAIL_SIZE), clip.poster


def _remove_frames_unless_retried(transfer):
    """A clip's kept frames, once this attempt lost it: deleted, unless another attempt resumes from them."""
    if transfer.is_clip and not Transfer.objects.pending().filter(pk=transfer.pk).exists():
        clip_jobs.remove_frames(transfer)


def _store_previews(transfer, content_image, result_image):
    """The previews for the gallery and the admin, made once the result is out (nobody waits on them).

    Pages show the full image until a preview exists, so a preview that fails, or a
    worker stopped here, costs a larger download and nothing else.
    """
    try:
        _write_previews(transfer, content_image, result_image)
    except (OSError, InvalidImage, DatabaseError):
        logger.warning("Could not store the previews of transfer %s.", transfer.public_id, exc_info=True)


def _write_previews(transfer, content_image, result_image):
    previews = [(transfer.result_thumbnail, "result-thumb.jpg", result_image)]
    if not transfer.content_thumbnail:
        previews.append((transfer.content_thumbnail, "content-thumb.jpg", content_image))
    # One write for the transfer's previews, while it is still done with this result.
    _write_previews_of(Transfer.objects.filter(pk=transfer.pk, status=Transfer.Status.DONE,
                                               result_image=transfer.result_image.name), previews)
    for style in transfer.styles.filter(thumbnail=""):
        with style.image.open("rb") as stored:
            style_image = open_image(stored, needed_side=THUMBNAIL_SIZE)
        _write_previews_of(TransferStyle.objects.filter(pk=style.pk),
                           [(style.thumbnail, f"style-{style.position + 1}-thumb.jpg", style_image)])


def _write_previews_of(rows, previews):
    """Save each preview (field, name, image) and point ``rows`` at them in one update; delete them if they are gone."""
    saved, written = [], 0
    try:
        for field, name, image in previews:
            field.save(name, ContentFile(encode_thumbnail(image)), save=False)
            saved.append(field)
        written = rows.update(**{field.field.name: field.name for field in saved})
    finally:
        if not written:
            for field in saved:
                field.storage.delete(field.name)


def _fail(transfer, message, progress):
    """Record the failure; the result files, the previews and a clip's kept frames go."""
    _delete_result_file(transfer)
    progress.discard()
    _record(transfer, Transfer.Status.FAILED, error_message=message, progress=None, preview_image="")
    _remove_frames_unless_retried(transfer)


def _record(transfer, status, **fields):
    """Write the outcome if this attempt still owns the transfer (and say whether it did); else undo its files."""
    if jobs.finish(transfer, status, **fields):
        return True
    logger.warning("Transfer %s was taken over while attempt %d ran; discarding its result.",
                   transfer.public_id, transfer.attempts)
    _delete_result_file(transfer)
    return False


def _delete_result_file(transfer):
    for result in (transfer.result_image, transfer.result_clip):
        if result:
            result.storage.delete(result.name)
            result.name = ""


class TransferProgress(Progress):
    """Records a running method's progress and previews on its transfer, and stops it once cancelled.

    Each report counts a step; the fraction and step count are written at most every
    PROGRESS_INTERVAL seconds (with a clip's frames done) and a preview at most every ``NST_PREVIEW_INTERVAL``, so
    a method reporting many small iterations costs the database little. Every write
    is conditional on this attempt still owning the transfer: when it does not (its
    owner cancelled it, or the reaper gave it up), :class:`Cancelled` is raised to stop
    the method. A clip's every frame checks this, so a cancelled clip stops at its next frame.
    """

    def __init__(self, transfer, lost):
        self._transfer = transfer
        self._frames = transfer.frames_total
        self._lost = lost
        self._steps = 0
        self._written_at = self._preview_at = -float("inf")
        self._previews = []

    def report(self, fraction, preview=None):
        if self._lost.is_set():
            raise Cancelled(TAKEN_OVER)
        self._steps += 1
        now = time.monotonic()
        if now - self._written_at < PROGRESS_INTERVAL:
            if self._frames and not jobs.owned(self._transfer).exists():
                raise Cancelled(TAKEN_OVER)  # a clip's frames are few and slow: each checks, one query
            return
        self._written_at = now
        fields = {"progress": min(max(float(fraction), 0.0), 1.0), "progress_steps": self._steps}
        if self._frames:
            fields["frames_done"] = round(fields["progress"] * self._frames)
        if preview is not None and now - self._preview_at >= conf.preview_interval():
            self._preview_at = now
            fields["preview_image"] = self._store_preview(preview())
        if not jobs.owned(self._transfer).update(**fields):
            raise Cancelled(TAKEN_OVER)
        self._delete_previews(keep=fields.get("preview_image") or (self._previews[-1] if self._previews else None))

    def _store_preview(self, image):
        field = self._transfer.preview_image
        # Named by attempt and step, so a retry never collides with a killed attempt's leftovers.
        preview = encode_thumbnail(tensor2image(image), PREVIEW_SIZE)
        field.save(f"preview-{self._transfer.attempts}-{self._steps}.jpg", ContentFile(preview), save=False)
        self._previews.append(field.name)
        return field.name

    def _delete_previews(self, keep=None):
        storage = self._transfer.preview_image.storage
        for name in [name for name in self._previews if name != keep]:
            storage.delete(name)
            self._previews.remove(name)

    def discard(self):
        """Delete every preview this attempt stored (the result, or nothing, replaces them)."""
        self._delete_previews()


def delete_unreferenced_files(transfer):
    """Remove files in the transfer's folder that its row does not point to (left by a killed worker)."""
    storage = transfer.content_image.storage
    folder = f"transfers/{transfer.public_id}"
    kept = {stored.name for stored in transfer.files()}
    _, names = storage.listdir(folder) if storage.exists(folder) else ([], [])
    for name in names:
        if f"{folder}/{name}" not in kept:
            storage.delete(f"{folder}/{name}")
    if transfer.is_clip and transfer.status not in Transfer.PENDING:
        clip_jobs.remove_frames(transfer)
