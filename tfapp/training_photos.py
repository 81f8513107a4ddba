"""The photos a style network is trained on: found in a folder, checked, and cut into random crops.

Plain NumPy and Pillow; the randomness comes from one ``numpy.random.Generator``
the caller owns, so a checkpoint that stores its state resumes the same crops.
"""
import logging
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from .exceptions import InvalidImage, TrainingError
from .imaging import EXTENSIONS, open_image

logger = logging.getLogger(__name__)

#: A photo is enlarged at random by up to this factor before cropping, so crops see several scales.
MAX_ZOOM = 2.0


class PhotoFolder:
    """The usable photos under ``folder`` (recursively), sorted by path.

    A file counts when Pillow reads its header as one of the formats the upload
    form accepts; any other file is skipped and counted in :attr:`skipped`. The
    first photo is held aside for validation images, and training needs at least
    ``batch`` of the others.
    """

    def __init__(self, folder, batch):
        folder = Path(folder)
        if not folder.is_dir():
            raise TrainingError(f"The photos folder {folder} does not exist or is not a folder.")
        self.skipped = []
        photos = [path for path in sorted(folder.rglob("*")) if path.is_file() and self._usable(path)]
        if len(photos) < batch + 1:
            raise TrainingError(
                f"The photos folder {folder} has {len(photos)} usable photo(s) ({len(self.skipped)} other file(s) "
                f"skipped); training needs at least {batch + 1}: one batch of {batch} and one held aside for "
                "the validation image.")
        self.validation, self.training = photos[0], photos[1:]

    def _usable(self, path):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(path) as image:
                    if image.format in EXTENSIONS:
                        return True
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            pass
        logger.warning("Skipping %s: not a JPEG, PNG, WebP, GIF, BMP or TIFF image.", path)
        self.skipped.append(path)
        return False


class CropSampler:
    """Batches of random square crops of the training photos, ``float32`` ``[N, size, size, 3]`` in [0, 1].

    A photo that turns out damaged when decoded is dropped with a warning and
    another drawn in its place.
    """

    def __init__(self, photos, size, rng):
        self._photos = list(photos)
        self._size = size
        self._rng = rng
        self.dropped = []

    def batch(self, count):
        return np.stack([self._crop() for _ in range(count)])

    def _crop(self):
        while self._photos:
            path = self._photos[self._rng.integers(len(self._photos))]
            zoom = self._rng.uniform(1.0, MAX_ZOOM)
            corner = self._rng.uniform(size=2)
            try:
                return random_crop(path, self._size, zoom, corner)
            except InvalidImage as error:
                logger.warning("Dropping %s from training: %s", path, error)
                self._photos.remove(path)
                self.dropped.append(path)
        raise TrainingError("Every training photo turned out to be damaged.")


def random_crop(path, size, zoom, corner):
    """A ``size`` x ``size`` crop of the photo at ``path``, scaled so its short side is ``zoom * size``.

    ``corner`` (two numbers in [0, 1)) places the crop within the scaled photo.
    """
    short_side = round(size * zoom)
    image = open_image(path, needed_side=_long_side_for(path, short_side))
    scale = short_side / min(image.size)
    scaled = image.resize((max(size, round(image.width * scale)), max(size, round(image.height * scale))),
                          Image.Resampling.BILINEAR, reducing_gap=2.0)
    left = int(corner[0] * (scaled.width - size + 1))
    top = int(corner[1] * (scaled.height - size + 1))
    crop = scaled.crop((left, top, left + size, top + size))
    return np.asarray(crop, np.float32) / 255.0


def _long_side_for(path, short_side):
    """The long side a photo needs so that its short side is still ``short_side`` (lets JPEGs decode smaller)."""
    try:
        with Image.open(path) as image:
            width, height = image.size
    except (OSError, ValueError, SyntaxError) as error:
        raise InvalidImage(f"The file could not be read as an image ({error}).") from error
    return int(np.ceil(short_side * max(width, height) / max(1, min(width, height))))
