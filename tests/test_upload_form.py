"""Upload validation: every rejected upload gets a clear error code and leaves nothing behind."""
import io
import random
import struct
import zlib

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from tfapp.forms import TransferForm

from .conftest import image_bytes, make_image, upload
from .factories import make_transfer

pytestmark = pytest.mark.django_db


def _form(content, style=None):
    return TransferForm(data={}, files={"content_image": content, "style_image": style or upload("style.png")})


def _errors(form):
    return form.errors.as_data()["content_image"][0].code


@pytest.mark.parametrize("image_format, mode, extension", [
    ("JPEG", "RGB", ".jpg"), ("PNG", "RGBA", ".png"), ("WEBP", "RGB", ".webp"), ("GIF", "P", ".gif"),
    ("BMP", "RGB", ".bmp"), ("TIFF", "CMYK", ".tif")])
def test_supported_formats_are_accepted(image_format, mode, extension):
    """JPEG, PNG, WebP, GIF, BMP and TIFF uploads are valid and stored under their real format's extension."""
    data = image_bytes(make_image((40, 30)).convert(mode), image_format)
    form = _form(SimpleUploadedFile("upload.bin", data))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["content_image"].extension == extension


def test_file_named_like_an_image_but_not_one_is_rejected():
    """A text file called photo.jpg is refused as not an image."""
    form = _form(SimpleUploadedFile("photo.jpg", b"hello, this is text", content_type="image/jpeg"))
    assert _errors(form) == "not_an_image"


def test_image_in_an_unsupported_format_is_rejected():
    """A format Pillow reads but the site does not accept (PPM) is refused by name."""
    form = _form(SimpleUploadedFile("photo.ppm", image_bytes(make_image(), "PPM")))
    assert _errors(form) == "unsupported_format"
    assert "PPM" in form.errors["content_image"][0]


def test_too_large_file_is_rejected_before_decoding(settings):
    """A file over NST_MAX_UPLOAD_BYTES is refused with its size and the limit."""
    settings.NST_MAX_UPLOAD_BYTES = 1000
    form = _form(upload(image=make_image((200, 200))))
    assert _errors(form) == "file_too_large"
    assert "limit is 1000" in form.errors["content_image"][0]


def test_image_with_too_many_pixels_is_rejected(settings):
    """An image over NST_MAX_UPLOAD_PIXELS is refused with its dimensions."""
    settings.NST_MAX_UPLOAD_PIXELS = 100 * 100
    form = _form(upload(image=make_image((200, 101))))
    assert _errors(form) == "too_many_pixels"
    assert "200 x 101" in form.errors["content_image"][0]


def _png(width, height, compressed_rows, interlace=0):
    """An 8-bit RGB PNG file: its header, one IDAT chunk of ``compressed_rows`` and IEND, each chunk well formed."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, interlace)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", compressed_rows) + chunk(b"IEND", b"")


def _png_header_only(width, height):
    """A PNG whose header claims width x height but carries a single tiny data chunk."""
    return _png(width, height, zlib.compress(b"\0" * 16))


def test_decompression_bomb_is_rejected_without_decoding():
    """A tiny file claiming 50000x50000 pixels is refused from its header alone."""
    form = _form(SimpleUploadedFile("bomb.png", _png_header_only(50_000, 50_000)))
    assert _errors(form) == "too_many_pixels"


def test_truncated_image_is_rejected_as_corrupt():
    """A PNG cut off halfway is reported as damaged."""
    data = image_bytes(make_image((300, 300)))
    form = _form(SimpleUploadedFile("cut.png", data[: len(data) // 2]))
    assert _errors(form) == "corrupt_image"


def test_jpeg_cut_short_is_rejected_as_corrupt():
    """A JPEG whose data stops before its end is refused, though its copy without metadata would end properly."""
    data = image_bytes(make_image((300, 200)), "JPEG")
    form = _form(SimpleUploadedFile("cut.jpg", data[: len(data) * 2 // 3]))
    assert _errors(form) == "corrupt_image"


def test_png_with_fewer_rows_than_its_header_says_is_rejected_as_corrupt():
    """A PNG complete to its IEND chunk whose image data stops short of its height is refused."""
    assert _errors(_form(SimpleUploadedFile("short.png", _png_header_only(40, 30)))) == "corrupt_image"


def test_png_with_an_unknown_row_filter_is_rejected_as_corrupt():
    """A PNG row starting with a filter type beyond Paeth (4) cannot be decoded, so the upload is refused."""
    rows = bytearray(b"".join(b"\0" + bytes(range(12)) for _ in range(4)))  # 4 rows of 4 RGB pixels, filter 0
    assert _form(SimpleUploadedFile("ok.png", _png(4, 4, zlib.compress(bytes(rows))))).is_valid()
    rows[2 * 13] = 7
    assert _errors(_form(SimpleUploadedFile("filter.png", _png(4, 4, zlib.compress(bytes(rows)))))) == "corrupt_image"


def test_png_larger_than_a_piece_of_the_check_is_checked_to_its_last_row():
    """The rows are inflated a piece at a time (4 MiB); a bad filter in the last piece is still found."""
    width, height, bad_row = 1200, 1200, 1190  # 4.3 MB of rows; row 1190 starts past the first 4 MiB
    rows = bytearray((1 + 3 * width) * height)  # black, every row filter 0
    assert _form(SimpleUploadedFile("big.png", _png(width, height, zlib.compress(bytes(rows))))).is_valid()
    rows[bad_row * (1 + 3 * width)] = 5
    assert _errors(_form(SimpleUploadedFile("big-bad.png", _png(width, height, zlib.compress(bytes(rows)))))) == \
        "corrupt_image"


def _decodes(data):
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
    except (OSError, ValueError, SyntaxError):
        return False
    return True


@pytest.mark.parametrize("compress_level", [1, 9])
def test_png_damage_is_refused_exactly_when_the_image_does_not_decode(compress_level):
    """Bits flipped in a PNG's compressed rows: refused exactly when Pillow cannot decode the file, and what is
    accepted is stored decodable."""
    data = image_bytes(make_image((64, 48)), compress_level=compress_level)
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8:start - 4])[0]
    rng = random.Random(20)
    verdicts = set()
    for _ in range(60):
        damaged = bytearray(data)
        damaged[start + rng.randrange(length)] ^= 1 << rng.randrange(8)
        form = _form(SimpleUploadedFile("damaged.png", bytes(damaged)))
        decodes = _decodes(bytes(damaged))
        assert form.is_valid() == decodes
        if decodes:
            assert _decodes(form.cleaned_data["content_image"].without_metadata[0])
        verdicts.add(decodes)
    assert verdicts == {True, False}  # both kinds of damage were met


def test_interlaced_png_is_accepted_and_a_damaged_one_refused():
    """An interlaced (Adam7) PNG is checked by decoding it: its pixels are stored; one cut in its first pass is
    refused."""
    red, green, blue, white = b"\xff\0\0", b"\0\xff\0", b"\0\0\xff", b"\xff\xff\xff"
    # A 2x2 image's passes: 1 holds (0, 0), 6 holds (1, 0), 7 the second row; each row starts with filter 0.
    passes = b"\0" + red + b"\0" + green + b"\0" + blue + white
    form = _form(SimpleUploadedFile("adam7.png", _png(2, 2, zlib.compress(passes), interlace=1)))
    assert form.is_valid(), form.errors
    stored = Image.open(io.BytesIO(form.cleaned_data["content_image"].without_metadata[0]))
    assert [stored.getpixel(xy) for xy in ((0, 0), (1, 0), (0, 1), (1, 1))] == [
        (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)]
    cut = _png(2, 2, zlib.compress(passes[:2]), interlace=1)
    assert _errors(_form(SimpleUploadedFile("adam7-cut.png", cut))) == "corrupt_image"


def test_empty_file_is_rejected():
    """A zero-byte upload gets Django's 'empty' error."""
    assert _errors(_form(SimpleUploadedFile("empty.png", b""))) == "empty"


def test_missing_file_is_required():
    """Submitting without a photo says it is required."""
    form = TransferForm(data={}, files={"style_image": upload("style.png")})
    assert form.errors.as_data()["content_image"][0].code == "required"


def test_stored_extension_follows_the_decoded_format():
    """A PNG uploaded as 'photo.jpg' is stored as .png."""
    form = _form(SimpleUploadedFile("photo.jpg", image_bytes(make_image())))
    assert form.is_valid()
    assert form.cleaned_data["content_image"].extension == ".png"


def test_file_inputs_only_offer_images_in_the_picker():
    """The file inputs tell the browser which types to offer."""
    assert 'accept="image/jpeg' in str(TransferForm()["content_image"])


def test_unavailable_model_is_a_form_error(settings, fresh_engine, tmp_path):
    """When the model cannot be loaded, submitting explains why instead of failing later."""
    settings.NST_LITE_MODEL_DIR = tmp_path / "nothing-here"
    form = _form(upload())
    assert not form.is_valid()
    assert form.non_field_errors().as_data()[0].code == "model_unavailable"
    assert "NST_LITE_MODEL_DIR" in form.non_field_errors()[0]


def test_multipage_tiff_is_accepted():
    """A multi-page TIFF is a valid upload (the worker reads its first page)."""
    pages = [Image.new("RGB", (10, 10), (255, 0, 0)), Image.new("RGB", (10, 10), (0, 255, 0))]
    data = io.BytesIO()
    pages[0].save(data, format="TIFF", save_all=True, append_images=pages[1:])
    form = _form(SimpleUploadedFile("pages.tif", data.getvalue()))
    assert form.is_valid(), form.errors
    assert form.cleaned_data["content_image"].extension == ".tif"


def test_client_with_too_many_pending_transfers_is_asked_to_wait(settings):
    """A client may have only NST_MAX_PENDING_PER_CLIENT transfers queued or running."""
    settings.NST_MAX_PENDING_PER_CLIENT = 2
    for _ in range(2):
        queued = make_transfer(run=False)
        queued.client = "me"
        queued.save()
    form = TransferForm(data={}, files={"content_image": upload(), "style_image": upload()}, client="me")
    assert form.non_field_errors().as_data()[0].code == "client_queue_full"
    other = TransferForm(data={}, files={"content_image": upload(), "style_image": upload()}, client="you")
    assert other.is_valid()


def test_full_queue_refuses_everyone(settings):
    """When NST_MAX_PENDING_TOTAL transfers are pending, new ones are refused with a reason."""
    settings.NST_MAX_PENDING_TOTAL = 1
    make_transfer(run=False)
    form = TransferForm(data={}, files={"content_image": upload(), "style_image": upload()}, client="new")
    assert form.non_field_errors().as_data()[0].code == "queue_full"
    assert "try again in a minute" in form.non_field_errors()[0]


def test_finished_transfers_do_not_count_against_the_limit(settings):
    """Only queued and running transfers count towards the limits."""
    settings.NST_MAX_PENDING_TOTAL = 1
    make_transfer(run=True)
    assert TransferForm(data={}, files={"content_image": upload(), "style_image": upload()}).is_valid()
