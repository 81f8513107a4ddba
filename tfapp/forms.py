import warnings

from django import forms
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from PIL import Image

from . import conf, engines
from .exceptions import InvalidImage
from .imaging import open_image
from .models import Transfer
from .pipeline import Options
from .processing import create_transfer

# Pillow format names we accept, with the extension the file is stored under;
# MPO is the JPEG variant many cameras and phones write.
EXTENSIONS = {"JPEG": ".jpg", "MPO": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp",
              "TIFF": ".tif"}
ACCEPT_ATTRIBUTE = "image/jpeg,image/png,image/webp,image/gif,image/bmp,image/tiff"


class ImageUploadField(forms.FileField):
    """An uploaded image, checked by its decoded content, not its name or declared type.

    The byte size and the pixel count (read from the header) are checked before any
    pixel is decoded, so a decompression bomb is refused cheaply. The cleaned value is
    the uploaded file with the decoded RGB image attached as ``.image`` and the
    extension of its real format as ``.extension``.
    """

    default_error_messages = {
        "file_too_large": "This file is %(size)s; the limit is %(limit)s.",
        "not_an_image": "This file is not an image. Upload a JPEG, PNG, WebP, GIF, BMP or TIFF file.",
        "unsupported_format": "%(format)s images are not supported. Upload a JPEG, PNG, WebP, GIF, BMP or TIFF file.",
        "too_many_pixels": "This image is %(width)s x %(height)s pixels; the limit is %(limit)s megapixels.",
        "decompression_bomb": "This image has far too many pixels to be processed.",
        "corrupt_image": "This image is damaged or truncated and could not be decoded.",
    }

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.widget.attrs.setdefault("accept", ACCEPT_ATTRIBUTE)

    def to_python(self, data):
        upload = super().to_python(data)
        if upload is None:
            return None
        self._check_bytes(upload)
        upload.extension = EXTENSIONS[self._check_header(upload)]
        upload.seek(0)
        try:
            upload.image = open_image(upload)
        except InvalidImage as error:
            raise ValidationError(self.error_messages["corrupt_image"], code="corrupt_image") from error
        upload.seek(0)
        return upload

    def _check_bytes(self, upload):
        limit = conf.max_upload_bytes()
        if upload.size > limit:
            raise ValidationError(
                self.error_messages["file_too_large"], code="file_too_large",
                params={"size": filesizeformat(upload.size), "limit": filesizeformat(limit)},
            )

    def _check_header(self, upload):
        upload.seek(0)
        try:
            # Opening reads only the header; Pillow's own bomb warning is moot since we check below.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(upload) as image:
                    image_format, (width, height) = image.format, image.size
        except Image.DecompressionBombError as error:
            raise ValidationError(self.error_messages["decompression_bomb"], code="too_many_pixels") from error
        except (OSError, ValueError, SyntaxError) as error:
            raise ValidationError(self.error_messages["not_an_image"], code="not_an_image") from error
        if image_format not in EXTENSIONS:
            raise ValidationError(self.error_messages["unsupported_format"], code="unsupported_format",
                                  params={"format": image_format or "These"})
        if width * height > conf.max_upload_pixels():
            raise ValidationError(
                self.error_messages["too_many_pixels"], code="too_many_pixels",
                params={"width": width, "height": height, "limit": round(conf.max_upload_pixels() / 1e6, 1)},
            )
        return image_format


class TransferForm(forms.Form):
    content_image = ImageUploadField(label="Photo", help_text="The picture to repaint.")
    style_image = ImageUploadField(label="Style", help_text="The painting whose style to copy.")

    error_messages = {
        "model_unavailable": "The style-transfer model is unavailable: %(reason)s",
        "client_queue_full": "You already have %(count)s transfers waiting. Please wait for one to finish.",
        "queue_full": "The server is busy with %(count)s transfers. Please try again in a minute.",
    }

    def __init__(self, *args, client="", **kwargs):
        super().__init__(*args, **kwargs)
        self.client = client

    def clean(self):
        reason = engines.unavailable_reason()
        if reason:
            raise ValidationError(self.error_messages["model_unavailable"], code="model_unavailable",
                                  params={"reason": reason})
        self._check_queue()
        return super().clean()

    def _check_queue(self):
        pending = Transfer.objects.pending()
        mine = pending.filter(client=self.client).count()
        if mine >= conf.max_pending_per_client():
            raise ValidationError(self.error_messages["client_queue_full"], code="client_queue_full",
                                  params={"count": mine})
        total = pending.count()
        if total >= conf.max_pending_total():
            raise ValidationError(self.error_messages["queue_full"], code="queue_full", params={"count": total})

    def save(self):
        """Store the uploads as a new queued transfer and return it."""
        return create_transfer(
            self.cleaned_data["content_image"], self.cleaned_data["style_image"],
            engine=engines.get_engine().name, options=Options(), client=self.client,
        )
