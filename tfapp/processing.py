"""Creating transfers and running them in a worker. Knows the database, not requests.

A worker owns a transfer from the moment it moves it from queued to running
(incrementing ``attempts``) until it records the outcome. Every later write is
conditional on that ownership, so a worker presumed dead (and its transfer handed
to another) can never overwrite the newer attempt; it deletes what it wrote instead.
"""
import logging
import os
import socket
import threading
import time

from django.core.files.base import ContentFile
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from . import conf, pipeline
from .exceptions import StyleTransferError
from .imaging import encode_png, encode_thumbnail, open_image
from .models import Transfer

logger = logging.getLogger(__name__)

OUT_OF_MEMORY = "The server ran out of memory while stylizing this image. Try a smaller output size."
UNEXPECTED_ERROR = "Something unexpected stopped this transfer. It has been logged; please try again."
TOO_SLOW = "This transfer took longer than the {limit:.0f} s limit. Try a smaller output size."


def create_transfer(content_upload, style_upload, engine, options, client=""):
    """Store both uploads (each with ``.image``, as cleaned by ImageUploadField) as a queued transfer.

    Either the row and all its files are written, or nothing is.
    """
    transfer = Transfer(engine=engine, client=client, **vars(options.resolved()))
    try:
        with transaction.atomic():
            for role, upload in (("content", content_upload), ("style", style_upload)):
                getattr(transfer, f"{role}_image").save(f"{role}{upload.extension}", upload, save=False)
                getattr(transfer, f"{role}_thumbnail").save(
                    f"{role}-thumb.jpg", ContentFile(encode_thumbnail(upload.image)), save=False)
            transfer.save()
    except Exception:
        delete_files(transfer)
        raise
    return transfer


def run_transfer(transfer_id):
    """Claim a queued transfer, stylize it and record the result, timings or error on it.

    Does nothing when the transfer is not queued (another worker took it, or it was deleted).
    """
    transfer = _claim(transfer_id)
    if transfer is None:
        logger.info("Transfer %s is no longer queued; skipping it.", transfer_id)
        return
    with Heartbeat(transfer):
        try:
            _stylize_into(transfer)
        except StyleTransferError as error:
            logger.warning("Transfer %s failed: %s", transfer.public_id, error)
            _fail(transfer, str(error))
        except MemoryError:
            logger.warning("Transfer %s ran out of memory.", transfer.public_id)
            _fail(transfer, OUT_OF_MEMORY)
        except Exception:
            logger.exception("Transfer %s failed unexpectedly.", transfer.public_id)
            _fail(transfer, UNEXPECTED_ERROR)


def worker_name():
    """This process as a worker: host name and process id."""
    return f"{socket.gethostname()}-{os.getpid()}"


def _claim(transfer_id):
    now = timezone.now()
    claimed = Transfer.objects.filter(pk=transfer_id, status=Transfer.Status.QUEUED).update(
        status=Transfer.Status.RUNNING, attempts=F("attempts") + 1, started_at=now, heartbeat_at=now,
        worker=worker_name())
    return Transfer.objects.get(pk=transfer_id) if claimed else None


def _owned(transfer):
    """The transfer's row, as long as this attempt still owns it."""
    return Transfer.objects.filter(pk=transfer.pk, status=Transfer.Status.RUNNING, attempts=transfer.attempts)


def _stylize_into(transfer):
    started = time.monotonic()
    with transfer.content_image.open("rb") as content_file, transfer.style_image.open("rb") as style_file:
        content_image, style_image = open_image(content_file), open_image(style_file)
    options = pipeline.Options(transfer.max_size, transfer.style_size, transfer.style_pooling)
    stylized = pipeline.stylize(content_image, style_image, options)
    if time.monotonic() - started > conf.job_time_limit():
        raise StyleTransferError(TOO_SLOW.format(limit=conf.job_time_limit()))
    encode_started = time.perf_counter()
    transfer.result_image.save("result.png", ContentFile(encode_png(stylized.image)), save=False)
    transfer.result_thumbnail.save("result-thumb.jpg", ContentFile(encode_thumbnail(stylized.image)), save=False)
    _record(transfer, status=Transfer.Status.DONE, result_image=transfer.result_image.name,
            result_thumbnail=transfer.result_thumbnail.name, result_width=stylized.image.width,
            result_height=stylized.image.height, preprocess_seconds=stylized.preprocess_seconds,
            model_seconds=stylized.model_seconds, encode_seconds=time.perf_counter() - encode_started)


def _fail(transfer, message):
    _delete_result_files(transfer)
    _record(transfer, status=Transfer.Status.FAILED, error_message=message)


def _record(transfer, **fields):
    """Write the outcome if this attempt still owns the transfer; otherwise undo its files."""
    if not _owned(transfer).update(finished_at=timezone.now(), **fields):
        logger.warning("Transfer %s was taken over while attempt %d ran; discarding its result.",
                       transfer.public_id, transfer.attempts)
        _delete_result_files(transfer)


def _delete_result_files(transfer):
    for field in (transfer.result_image, transfer.result_thumbnail):
        if field:
            field.storage.delete(field.name)
            field.name = ""


class Heartbeat:
    """While a transfer runs, stamp ``heartbeat_at`` every few seconds from a side thread.

    A transfer whose heartbeat stops (its worker was killed) is recovered by
    :func:`tfapp.tasks.recover_stalled_transfers`.
    """

    def __init__(self, transfer):
        self._transfer = transfer
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{transfer.pk}", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self._stopped.set()
        self._thread.join()

    def _beat(self):
        try:
            while not self._stopped.wait(conf.heartbeat_seconds()):
                _owned(self._transfer).update(heartbeat_at=timezone.now())
        finally:
            connection.close()


def delete_files(transfer):
    """Remove every stored file of ``transfer`` (used when it is deleted or never saved)."""
    for stored in transfer.files():
        stored.storage.delete(stored.name)


def delete_unreferenced_files(transfer):
    """Remove files in the transfer's folder that its row does not point to (left by a killed worker)."""
    storage = transfer.content_image.storage
    folder = f"transfers/{transfer.public_id}"
    kept = {stored.name for stored in transfer.files()}
    _, names = storage.listdir(folder) if storage.exists(folder) else ([], [])
    for name in names:
        if f"{folder}/{name}" not in kept:
            storage.delete(f"{folder}/{name}")
