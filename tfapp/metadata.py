"""Uploads stored without the metadata cameras and phones hide in them, checked as they are stripped.

EXIF (GPS position, camera serial, embedded thumbnail), XMP, IPTC and comments are
dropped. The EXIF orientation is applied first, so the stored image is upright; an
embedded colour profile is applied too (the pixels are converted to sRGB and the
profile is not kept), so the colours look the same without it and the profile cannot
identify the device either.

A JPEG that is already upright and has no profile keeps its compressed data as it
is: only its metadata segments are cut out, so its pixels are exactly the uploaded
ones. A PNG without EXIF, XMP or a profile keeps its image chunks likewise. Any
other image is decoded and written again (JPEG at quality 95, or PNG).

Stripping is also the upload's check, in one pass: what is stored is decoded once,
and a file that does not decode is refused (:class:`~tfapp.exceptions.InvalidImage`).
A kept JPEG is decoded at 1/8 scale, which still reads every byte of it; a kept PNG's
image data is inflated and its rows' filters checked, which is all decoding it could
find wrong, a piece at a time and without undoing the filters into pixels.
"""
import io
import logging
import struct

from isal import isal_zlib
from PIL import Image, ImageCms, ImageOps

from .exceptions import InvalidImage

logger = logging.getLogger(__name__)

SRGB = ImageCms.createProfile("sRGB")
ORIENTATION = 0x0112
#: Modes a PNG stores as they are; anything else (CMYK, YCbCr, 32-bit) becomes RGB(A).
PNG_MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I;16")


def without_metadata(upload):
    """``(bytes, extension)`` of ``upload`` (an image file whose header the form checked) with no metadata.

    JPEGs stay JPEGs (quality 95); every other format becomes a lossless PNG. Only
    the first frame of an animation is kept, as only it is stylized. Raises
    InvalidImage when the image is damaged or truncated.
    """
    data = _read_all(upload)
    try:
        return _without_metadata(upload, data)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise InvalidImage(f"The file could not be read as an image ({error}).") from error
    finally:
        upload.seek(0)


def _without_metadata(upload, data):
    with Image.open(upload) as image:
        image.seek(0)
        if image.format == "PNG":
            stripped = png_without_metadata(data)
            if stripped and _png_decodes(stripped):
                return stripped, ".png"
        is_jpeg = image.format in ("JPEG", "MPO")
        if is_jpeg and image.getexif().get(ORIENTATION, 1) == 1 and not image.info.get("icc_profile"):
            stripped = jpeg_without_metadata(data)
            if stripped and _decodes(stripped, draft=(64, 64)):  # 1/8 scale still reads every byte
                return stripped, ".jpg"
        # Decoding the whole image here is its check: a damaged file raises.
        upright = ImageOps.exif_transpose(image)
        pixels = _in_srgb(upright, image.info.get("icc_profile"))
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


def _read_all(upload):
    """The whole file's bytes, leaving it at the start for Pillow."""
    upload.seek(0)
    data = upload.read()
    upload.seek(0)
    return data


def _decodes(data, draft=None):
    """Whether Pillow decodes the image file ``data`` (a JPEG at the ``draft`` size, when given)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if draft:
                image.draft("RGB", draft)
            image.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        logger.info("A stripped image did not decode; the upload is decoded and written again instead.")
        return False
    return True


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


#: JPEG markers whose segments are kept: JFIF (APP0), Adobe's colour transform (APP14,
#: needed to decode CMYK files) and everything that is not an APPn or comment segment.
KEPT_APPS = (0xE0, 0xEE)
SOS, EOI = 0xDA, 0xD9


def jpeg_without_metadata(data):
    """The JPEG file ``data`` up to its first image's end, without APP1-APP13, APP15 and COM segments.

    The compressed image data is copied byte for byte. A multi-picture file's other
    pictures (with their own EXIF) follow the first image's end and are left out.
    None when the file ends before its first image does: it is truncated (and a
    decoder given the stripped copy, which ends properly, would not notice).
    """
    kept, position = [data[:2]], 2
    while position < len(data):
        marker, position = _next_marker(data, position)
        if marker == EOI:
            return b"".join(kept) + b"\xff\xd9"
        if marker is None or position + 2 > len(data):
            return None
        length = struct.unpack(">H", data[position:position + 2])[0]
        segment_end = position + length
        if marker == SOS:
            segment_end = _end_of_scan(data, segment_end)
        if not (0xE1 <= marker <= 0xEF and marker not in KEPT_APPS) and marker != 0xFE:
            kept.append(bytes((0xFF, marker)) + data[position:segment_end])
        position = segment_end
    return None


def _next_marker(data, position):
    """The marker at ``position`` (fill bytes skipped) and where its segment starts."""
    while position < len(data) and data[position] == 0xFF:
        position += 1
    if position >= len(data):
        return None, position
    return data[position], position + 1


def _end_of_scan(data, position):
    """Where a scan's entropy-coded data ends: at the first 0xFF that starts a marker (not stuffing or RSTn)."""
    while True:
        position = data.find(b"\xff", position)
        if position < 0 or position + 1 >= len(data):
            return len(data)
        following = data[position + 1]
        if following != 0x00 and not 0xD0 <= following <= 0xD7 and following != 0xFF:
            return position
        position += 1 if following == 0xFF else 2


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: PNG chunks kept: the image and how to show its colours. Text, time stamps, physical size,
#: animation and private chunks go.
PNG_KEPT_CHUNKS = {b"IHDR", b"PLTE", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"sBIT", b"IDAT", b"IEND"}
#: Text chunks whose keyword says they hold EXIF or XMP, which Pillow reads an orientation from.
PNG_TEXT_CHUNKS = {b"tEXt", b"zTXt", b"iTXt"}
PNG_ORIENTING_KEYWORDS = {b"Raw profile type exif", b"XML:com.adobe.xmp"}


def png_without_metadata(data):
    """The PNG file ``data`` with only PNG_KEPT_CHUNKS, each copied byte for byte (CRC included).

    None when the file must be decoded and written again instead: it has a colour
    profile (iCCP) or something that may orient it (an eXIf chunk, EXIF or XMP in
    text), or its chunks do not end in IEND.
    """
    if not data.startswith(PNG_SIGNATURE):
        return None
    kept = [PNG_SIGNATURE]
    for kind, start, end in _png_chunks(data):
        if _png_needs_rewriting(kind, data[start + 8:min(end - 4, start + 88)]):
            return None
        if kind in PNG_KEPT_CHUNKS:
            kept.append(data[start:end])
        if kind == b"IEND":
            return b"".join(kept)
    return None


def _png_chunks(data):
    """``(type, start, end)`` of each chunk of the PNG file ``data``: its length field to its CRC's end."""
    position = len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        yield kind, position, position + 12 + length
        position += 12 + length


def _png_needs_rewriting(kind, start):
    """Whether a chunk of type ``kind`` starting with the bytes ``start`` holds a profile or an orientation."""
    if kind in (b"iCCP", b"eXIf"):
        return True
    return kind in PNG_TEXT_CHUNKS and start.split(b"\0", 1)[0] in PNG_ORIENTING_KEYWORDS


#: Samples per pixel of each PNG colour type (grey, RGB, palette, grey + alpha, RGBA).
PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
#: The highest row filter type (Paeth); a row starting with a higher one cannot be decoded.
PNG_LAST_FILTER = 4


def _png_decodes(data):
    """Whether the PNG file ``data`` (as png_without_metadata writes it) would decode, as Pillow reads it.

    Its first run of IDAT chunks must inflate to at least a full image's rows, each
    starting with a known filter type: what Pillow's decoder refuses a file for. An
    interlaced image is decoded by Pillow instead.
    """
    chunks = [(kind, data[start + 8:end - 4]) for kind, start, end in _png_chunks(data)]
    kinds = [kind for kind, _ in chunks]
    if not chunks or kinds[0] != b"IHDR" or len(chunks[0][1]) != 13 or b"IDAT" not in kinds:
        return False
    width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    if interlace:
        return _decodes(data)
    if colour_type not in PNG_CHANNELS:
        return False
    image_data = []
    for kind, body in chunks[kinds.index(b"IDAT"):]:
        if kind != b"IDAT":
            break  # Pillow reads no further
        image_data.append(body)
    return _png_rows_decode(b"".join(image_data), 1 + (width * depth * PNG_CHANNELS[colour_type] + 7) // 8,
                            height)


#: Bytes of rows inflated at a time while checking a PNG: the image itself is never held whole.
PNG_CHECK_CHUNK = 1 << 22


def _png_rows_decode(compressed, row_bytes, height):
    """Whether the zlib stream ``compressed`` holds ``height`` rows of ``row_bytes``, each with a known filter."""
    inflater, needed, seen = isal_zlib.decompressobj(), row_bytes * height, 0
    try:
        while seen < needed:
            rows = inflater.decompress(compressed, min(needed - seen, PNG_CHECK_CHUNK))
            compressed = inflater.unconsumed_tail
            if not rows:
                return False  # the stream ended before the last row
            # Each row's first byte names its filter; the first one in this piece is where a row starts.
            if max(rows[(-seen) % row_bytes::row_bytes], default=0) > PNG_LAST_FILTER:
                return False
            seen += len(rows)
    except isal_zlib.error:
        return False
    return True
