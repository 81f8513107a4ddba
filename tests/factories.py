"""Test data: transfers and presets created the way the site creates them."""
from django.core.files.base import ContentFile

from tfapp.forms import ImageUploadField
from tfapp.models import StylePreset
from tfapp.pipeline import Options
from tfapp.processing import ImageInput, StyleChoice, create_transfer, run_transfer

from .conftest import image_bytes, make_image, upload


def image_input(name, image):
    """An ImageInput as the form makes it from an upload."""
    return ImageInput.from_upload(ImageUploadField().clean(upload(name, image)))


def make_transfer(run=True, size=(48, 32), styles=None, options=None):
    """A stored transfer of a small synthetic photo, stylized unless ``run`` is False.

    ``styles`` is a list of StyleChoice; by default one synthetic style of weight 1.
    """
    styles = styles or [StyleChoice(image_input("style.png", make_image((32, 32))))]
    transfer = create_transfer(image_input("photo.png", make_image(size)), styles,
                               options=options or Options())
    if run:
        run_transfer(transfer.pk)
        transfer.refresh_from_db()
    return transfer


def make_preset(name="Stripes", image=None):
    """A preset style with a synthetic image, as `load_presets` would create it."""
    preset = StylePreset(name=name, artist="Test Painter", year=1900)
    preset.image.save(f"{name.lower()}.png", ContentFile(image_bytes(image or make_image((64, 64)))), save=False)
    preset.save()
    return preset
