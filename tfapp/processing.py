"""Creating a transfer from uploads and running it. Knows the database, not requests."""
import logging
import time

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils import timezone

from . import pipeline
from .exceptions import StyleTransferError
from .imaging import encode_png, encode_thumbnail, open_image
from .models import Transfer

logger = logging.getLogger(__name__)

OUT_OF_MEMORY = "The server ran out of memory while stylizing this image. Try a smaller output size."
UNEXPECTED_ERROR = "Something unexpected stopped this transfer. It has been logged; please try again."


def create_transfer(content_upload, style_upload, engine, options):
    """Store both uploads (each with ``.image``, as cleaned by ImageUploadField) as a queued transfer.

    Either the row and all its files are written, or nothing is.
    """
    transfer = Transfer(engine=engine, **vars(options.resolved()))
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
    """Stylize a stored transfer and record the result, timings or error on it."""
    transfer = Transfer.objects.get(pk=transfer_id)
    transfer.status = Transfer.Status.RUNNING
    transfer.save(update_fields=["status"])
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
    return transfer


def _stylize_into(transfer):
    with transfer.content_image.open("rb") as content_file, transfer.style_image.open("rb") as style_file:
        content_image, style_image = open_image(content_file), open_image(style_file)
    options = pipeline.Options(transfer.max_size, transfer.style_size, transfer.style_pooling)
    stylized = pipeline.stylize(content_image, style_image, options)
    started = time.perf_counter()
    transfer.result_image.save("result.png", ContentFile(encode_png(stylized.image)), save=False)
    transfer.result_thumbnail.save("result-thumb.jpg", ContentFile(encode_thumbnail(stylized.image)), save=False)
    transfer.result_width, transfer.result_height = stylized.image.size
    transfer.preprocess_seconds = stylized.preprocess_seconds
    transfer.model_seconds = stylized.model_seconds
    transfer.encode_seconds = time.perf_counter() - started
    transfer.status = Transfer.Status.DONE
    transfer.finished_at = timezone.now()
    transfer.save()


def _fail(transfer, message):
    for field in (transfer.result_image, transfer.result_thumbnail):
        if field:
            field.delete(save=False)
    transfer.status = Transfer.Status.FAILED
    transfer.error_message = message
    transfer.finished_at = timezone.now()
    transfer.save()


def delete_files(transfer):
    """Remove every stored file of ``transfer`` (used when it is deleted or never saved)."""
    for stored in transfer.files():
        stored.storage.delete(stored.name)
