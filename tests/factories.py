"""Test data: transfers created the way the site creates them."""
from tfapp.pipeline import Options
from tfapp.processing import create_transfer, run_transfer

from .conftest import make_image, upload


def _cleaned_upload(name, image):
    from tfapp.forms import ImageUploadField

    return ImageUploadField().clean(upload(name, image))


def make_transfer(run=True, size=(48, 32)):
    """A stored transfer of two small synthetic images, stylized unless ``run`` is False."""
    transfer = create_transfer(_cleaned_upload("photo.png", make_image(size)),
                               _cleaned_upload("style.png", make_image((32, 32))),
                               engine="lite", options=Options())
    if run:
        run_transfer(transfer.pk)
        transfer.refresh_from_db()
    return transfer
