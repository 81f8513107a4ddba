"""Regions painted on a photo: which painting goes where.

A mask is a PNG the size of the photo (another size with the same aspect ratio
within 1 % is resized with nearest-neighbour), one 8-bit channel whose value k
(0–3) puts the pixel in region k; unpainted pixels are 0. Region k takes the k-th
style given unless ``region_styles`` says otherwise: one entry per region, each the
1-based position of a style or ``keep`` (the photo stays there). ``feather`` (pixels
at the photo's size) softens the edges between regions.

The page, the API and the command line all read masks with :func:`build`; it
raises :class:`RegionError`, whose ``code`` the form and the API report. Nothing
here imports a machine-learning library.
"""
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError

from .exceptions import StyleTransferError

#: Most regions a mask may have (values 0 to MAX_REGIONS - 1).
MAX_REGIONS = 4
#: The word that leaves a region's photo as it is.
KEEP = "keep"
#: Largest feather, in pixels at the photo's size.
MAX_FEATHER = 256
#: How far the mask's aspect ratio may differ from the photo's (relative).
ASPECT_TOLERANCE = 0.01
#: Most pixels a mask may decode to (the same bound Pillow puts on photos).
MAX_MASK_PIXELS = Image.MAX_IMAGE_PIXELS


class RegionError(StyleTransferError, ValueError):
    """A mask or its region styles cannot be used; ``code`` says why (``mask_not_image``, ``mask_aspect``, …)."""

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True, eq=False)
class Regions:
    """A painted mask and what each region gets.

    ``mask`` is a ``uint8`` ``[H, W]`` array at the photo's size with values
    ``0 .. len(styles) - 1``; ``styles[k]`` is the 0-based index of region k's style
    among the transfer's styles, or ``None`` to keep the photo there.
    """

    mask: np.ndarray
    styles: tuple
    feather: int = 0

    @property
    def count(self):
        """The number of regions (the highest value in the mask, plus one)."""
        return len(self.styles)

    def weights(self, size):
        """Each region's share of every pixel at ``size`` (width, height): ``float32`` ``[count, H, W]``.

        Hard edges without a feather; with one, each region's indicator is blurred
        by a Gaussian whose radius is the feather scaled to ``size``, and the shares
        are normalised to sum to 1 at every pixel.
        """
        width, height = size
        scaled = Image.fromarray(self.mask, mode="L").resize(size, Image.Resampling.NEAREST)
        labels = np.asarray(scaled)
        radius = self.feather * width / self.mask.shape[1] / 2
        shares = []
        for region in range(self.count):
            indicator = Image.fromarray(np.where(labels == region, 255, 0).astype(np.uint8), mode="L")
            if radius > 0:
                indicator = indicator.filter(ImageFilter.GaussianBlur(radius))
            shares.append(np.asarray(indicator, dtype=np.float32))
        shares = np.stack(shares)
        total = shares.sum(axis=0, keepdims=True)
        # Blurring 0/255 indicators leaves every pixel some share: the total is never 0.
        return (shares / np.maximum(total, 1e-6)).reshape(self.count, height, width)

    def png(self):
        """The mask as stored and sent: an 8-bit greyscale PNG whose values are the regions."""
        buffer = io.BytesIO()
        Image.fromarray(self.mask, mode="L").save(buffer, format="PNG")
        return buffer.getvalue()


def build(mask_file, photo_size, style_count, region_styles=None, feather=0):
    """The :class:`Regions` a mask (a file or bytes), region styles and feather describe. Raises RegionError.

    ``photo_size`` is the photo's (width, height) as shown (EXIF orientation
    applied); ``style_count`` the number of styles given; ``region_styles`` ``None``
    (region k takes style k), a sequence or a comma-separated string of 1-based
    style positions or ``keep``.
    """
    mask = read_mask(mask_file, photo_size)
    count = int(mask.max()) + 1
    return Regions(mask, parse_region_styles(region_styles, style_count, count), checked_feather(feather))


def read_mask(mask_file, photo_size):
    """A mask's region of every pixel, a ``uint8`` ``[H, W]`` array at ``photo_size``. Raises RegionError."""
    image = _open(mask_file)
    if image.mode not in ("L", "P", "1"):
        raise RegionError("The mask must have one 8-bit channel (a greyscale PNG whose values 0–3 are the regions), "
                          f"not {image.mode}.", "mask_channels")
    width, height = photo_size
    if abs(image.width / image.height - width / height) > ASPECT_TOLERANCE * width / height:
        raise RegionError(f"The mask is {image.width}x{image.height} but the photo is {width}x{height}; "
                          "paint it at the photo's size or aspect ratio.", "mask_aspect")
    if image.size != (width, height):
        image = image.resize((width, height), Image.Resampling.NEAREST)
    mask = np.asarray(image if image.mode != "1" else image.convert("L").point(lambda v: v // 255), dtype=np.uint8)
    if mask.max() >= MAX_REGIONS:
        raise RegionError(f"The mask's values must be 0 to {MAX_REGIONS - 1} (one per region); "
                          f"it has {int(mask.max())}.", "mask_values")
    return mask


def _open(mask_file):
    data = mask_file if isinstance(mask_file, bytes) else mask_file.read()
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_MASK_PIXELS:
                raise RegionError("The mask has too many pixels.", "mask_not_image")
            image.load()
            return image
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        if isinstance(error, RegionError):
            raise
        raise RegionError("The mask is not an image Restyle can read; send a PNG.", "mask_not_image") from error


def parse_region_styles(region_styles, style_count, region_count):
    """Region k's style index (0-based) or None (keep), for each of ``region_count`` regions. Raises RegionError."""
    if region_styles is None or region_styles == "" or list(region_styles) == []:
        if region_count > style_count:
            raise RegionError(f"The mask has {region_count} regions but only {style_count} "
                              f"style{'s' if style_count != 1 else ''} were given; add styles or say which "
                              "style each region takes.", "too_many_regions")
        return tuple(range(region_count))
    entries = [entry.strip() for entry in region_styles.split(",")] if isinstance(region_styles, str) \
        else [str(entry).strip() for entry in region_styles]
    if len(entries) < region_count:
        raise RegionError(f"The mask has {region_count} regions but region styles name {len(entries)}; "
                          "give one per region.", "too_many_regions")
    return tuple(_style_index(entry, style_count) for entry in entries[:region_count])


def _style_index(entry, style_count):
    if entry.lower() == KEEP:
        return None
    if not entry.isdigit() or not 1 <= int(entry) <= style_count:
        raise RegionError(f"Region style {entry!r} points at no style: use 1 to {style_count} or {KEEP!r}.",
                          "region_style_missing")
    return int(entry) - 1


def checked_feather(feather):
    """``feather`` as a whole number of pixels, 0 to MAX_FEATHER. Raises RegionError."""
    try:
        pixels = int(feather or 0)
    except (TypeError, ValueError):
        pixels = -1
    if not 0 <= pixels <= MAX_FEATHER:
        raise RegionError(f"The feather must be 0 to {MAX_FEATHER} pixels.", "feather")
    return pixels
