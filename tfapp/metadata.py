"""Uploads re-encoded without the metadata cameras and phones hide in them.

EXIF (GPS position, camera serial, embedded thumbnail), XMP, IPTC and comments are
dropped by decoding the pixels and writing a new file that carries nothing else.
The EXIF orientation is applied first, so the stored image is upright; an embedded
colour profile is applied too (the pixels are converted to sRGB and the profile is
not kept), so the colours look the same without it and the profile cannot identify
the device either.
"""
import io
import logging

from PIL import Image, ImageCms, ImageOps

logger = logging.getLogger(__name__)

SRGB = ImageCms.createProfile("sRGB")
#: Modes a PNG stores as they are; anything else (CMYK, YCbCr, 32-bit) becomes RGB(A).
PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I;16")


def without_metadata(upload):
    """``(bytes, extension)`` of ``upload`` (an image file already checked by the form) with no metadata.

    JPEGs stay JPEGs (quality 95); every other format becomes a lossless PNG. Only
    the first frame of an animation is kept, as only it is stylized.
    """
    upload.seek(0)
    with Image.open(upload) as image:
        image.seek(0)
        is_jpeg = image.format in ("JPEG", "MPO")
        upright = ImageOps.exif_transpose(image)
        pixels = _in_srgb(upright, image.info.get("icc_profile"))
    upload.seek(0)
    # Pillow writes some of ``info`` (comments, the ICC profile into PNGs) back out: start clean.
    transparency = pixels.info.get("transparency") if pixels.mode in ("P", "L", "RGB") else None
    pixels.info = {}
    buffer = io.BytesIO()
    if is_jpeg:
        pixels.convert("L" if pixels.mode in ("1", "L") else "RGB").save(buffer, format="JPEG", quality=95)
        return buffer.getvalue(), ".jpg"
    if pixels.mode not in PNG_MODES:
        pixels = pixels.convert("RGBA" if "A" in pixels.getbands() else "RGB")
    # A palette image's transparency is pixel data, not metadata: it is kept.
    options = {"transparency": transparency} if transparency is not None else {}
    pixels.save(buffer, format="PNG", **options)
    return buffer.getvalue(), ".png"


def _in_srgb(image, icc_profile):
    """The image's pixels converted from its embedded profile to sRGB (as they are without one).

    A profile Little CMS cannot use is ignored, as a browser would.
    """
    image.info.pop("icc_profile", None)
    if not icc_profile or image.mode not in ("RGB", "RGBA", "CMYK", "L"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        output_mode = "RGBA" if image.mode == "RGBA" else "RGB"
        return ImageCms.profileToProfile(image, source, SRGB, outputMode=output_mode)
    except (ImageCms.PyCMSError, OSError, ValueError):
        logger.info("Ignored an embedded colour profile that could not be read.")
        return image
