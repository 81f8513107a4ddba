import io
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tfapp import engines

SHARED_DIR = django_settings.SHARED_DIR
CONTENT_DIR = SHARED_DIR / "images" / "content"
STYLE_DIR = SHARED_DIR / "images" / "style"


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    """Every test writes media and downloaded models into its own temporary folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.NST_MODEL_DIR = tmp_path / "models"
    return settings.MEDIA_ROOT


@pytest.fixture
def fresh_engine():
    """Forget the cached engine before and after a test that changes engine settings."""
    engines.reset()
    yield
    engines.reset()


def make_image(size=(64, 48), mode="RGB", color=None, pattern=True):
    """A small Pillow image built in memory; ``pattern`` adds a gradient so it is not flat."""
    width, height = size
    if pattern:
        x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
        y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
        rgb = np.stack([x + 0 * y, y + 0 * x, 255 - (x + y) / 2], axis=-1).astype(np.uint8)
        return Image.fromarray(rgb, "RGB").convert(mode)
    return Image.new(mode, size, color)


def image_bytes(image, image_format="PNG", **save_options):
    buffer = io.BytesIO()
    image.save(buffer, format=image_format, **save_options)
    return buffer.getvalue()


def upload(name="photo.png", image=None, image_format="PNG", content_type="image/png"):
    """An uploaded file as a browser would send it."""
    data = image_bytes(image or make_image(), image_format)
    return SimpleUploadedFile(name, data, content_type=content_type)


def shared_upload(path):
    path = Path(path)
    return SimpleUploadedFile(path.name, path.read_bytes(), content_type="image/png")


def media_files(media_root):
    """All files under the media folder, relative paths."""
    root = Path(media_root)
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
