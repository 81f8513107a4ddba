"""Uploads are stored without EXIF, GPS, XMP or comments, upright, and results carry none either."""
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import ExifTags, Image, ImageCms, PngImagePlugin

from tfapp.metadata import without_metadata
from tfapp.models import Transfer

from .conftest import CONTENT_DIR, make_image

pytestmark = pytest.mark.django_db

XMP = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
       b'<rdf:Description xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="48,51.49N"/>'
       b"</rdf:RDF></x:xmpmeta>")


def camera_photo():
    """A real photo (chelsea.png) saved as a camera writes it: a JPEG turned on its side with EXIF orientation 6
    (rotate 90° clockwise to view), GPS position, camera make, model and serial, an EXIF thumbnail, XMP,
    a comment and an ICC profile."""
    photo = Image.open(CONTENT_DIR / "chelsea.png").convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[ExifTags.Base.Make], exif[ExifTags.Base.Model] = "Canon", "Canon EOS 5D Mark IV"
    exif[ExifTags.Base.BodySerialNumber] = "032024001234"
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.5),
        ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (2.0, 17.0, 40.2),
        ExifTags.GPS.GPSAltitude: 35.0,
    }
    buffer = io.BytesIO()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo.save(buffer, "JPEG", quality=92, exif=exif, comment=b"Holiday at home, 12 Rue X", xmp=XMP,
               icc_profile=srgb)
    return buffer.getvalue()


def test_the_test_photo_carries_gps_and_lies_on_its_side():
    """The test photo itself carries GPS tags Pillow reads, XMP and a comment, and is stored sideways (300x451)."""
    photo = Image.open(io.BytesIO(camera_photo()))
    assert photo.getexif().get_ifd(ExifTags.IFD.GPSInfo)[ExifTags.GPS.GPSLatitude] == (48.0, 51.0, 29.5)
    assert photo.size == (300, 451) and "comment" in photo.info and "xmp" in photo.info


def test_stored_upload_has_no_metadata_and_is_upright(client, django_capture_on_commit_callbacks):
    """The stored photo, its result and previews: no EXIF, GPS, XMP, comment or profile; 451x300 like the scene."""
    files = {"content_image": SimpleUploadedFile("IMG_0001.JPG", camera_photo(), content_type="image/jpeg"),
             "style_image": SimpleUploadedFile("style.jpg", camera_photo(), content_type="image/jpeg")}
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("tfapp:upload"), files).status_code == 302
    transfer = Transfer.objects.get()
    stored_files = [transfer.content_image, transfer.first_style.image, transfer.result_image,
                    transfer.content_thumbnail, transfer.result_thumbnail, transfer.first_style.thumbnail]
    for field in stored_files:
        with field.open("rb") as stored:
            data = stored.read()
        image = Image.open(io.BytesIO(data))
        assert len(image.getexif()) == 0, field.name
        assert not set(image.info) & {"exif", "xmp", "comment", "icc_profile", "XML:com.adobe.xmp"}, field.name
        assert b"Canon" not in data and b"Holiday" not in data and b"adobe:ns:meta" not in data, field.name
    with transfer.content_image.open("rb") as stored:
        upright = Image.open(stored).convert("RGB")
        upright.load()
    assert upright.size == (451, 300)
    assert (transfer.content_width, transfer.content_height) == (451, 300)
    assert (transfer.result_width, transfer.result_height) == (451, 300)
    # Upright means the same way up as the scene: compare with the original photo, pixel by pixel.
    original = Image.open(CONTENT_DIR / "chelsea.png").convert("RGB")
    difference = sum(abs(a - b) for a, b in zip(upright.resize((45, 30)).tobytes(), original.resize((45, 30)).tobytes()))
    assert difference / (45 * 30 * 3) < 8


def test_a_png_keeps_its_transparency_but_loses_its_text():
    """Non-JPEG uploads become PNGs with their pixels (alpha included) and none of their text chunks."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "taken at home")
    buffer = io.BytesIO()
    make_image((40, 30), mode="RGBA").save(buffer, "PNG", pnginfo=info)
    data, extension = without_metadata(io.BytesIO(buffer.getvalue()))
    image = Image.open(io.BytesIO(data))
    assert extension == ".png" and image.mode == "RGBA" and image.size == (40, 30)
    assert "Comment" not in image.info and b"taken at home" not in data


def _gps_jpeg(**save_options):
    """The real photo as an upright JPEG (no orientation tag, no profile) with GPS EXIF, XMP and a comment."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.5)}
    buffer = io.BytesIO()
    Image.open(CONTENT_DIR / "chelsea.png").convert("RGB").save(
        buffer, "JPEG", exif=exif, comment=b"Holiday at home", xmp=XMP, **save_options)
    return buffer.getvalue()


@pytest.mark.parametrize("save_options", [{}, {"progressive": True}, {"restart_marker_blocks": 1}],
                         ids=["baseline", "progressive", "restart-markers"])
def test_an_upright_jpeg_loses_its_metadata_but_not_a_pixel(save_options):
    """Without an orientation or profile to apply, only the metadata segments go: the pixels are the uploaded ones."""
    uploaded = _gps_jpeg(**save_options)
    data, extension = without_metadata(io.BytesIO(uploaded))
    stored, original = Image.open(io.BytesIO(data)), Image.open(io.BytesIO(uploaded))
    assert extension == ".jpg" and len(stored.getexif()) == 0
    assert not set(stored.info) & {"exif", "xmp", "comment"}
    assert b"Canon" not in data and b"Holiday" not in data and b"adobe:ns:meta" not in data
    assert stored.convert("RGB").tobytes() == original.convert("RGB").tobytes()


def test_a_multi_picture_file_keeps_only_its_first_picture():
    """An MPO's further pictures (each with EXIF of its own) are left out."""
    frames = [Image.open(CONTENT_DIR / "chelsea.png").convert("RGB"), make_image((64, 48))]
    buffer = io.BytesIO()
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Canon"
    frames[0].save(buffer, "MPO", save_all=True, append_images=frames[1:], exif=exif)
    assert Image.open(io.BytesIO(buffer.getvalue())).n_frames == 2
    data, _ = without_metadata(io.BytesIO(buffer.getvalue()))
    stored = Image.open(io.BytesIO(data))
    assert getattr(stored, "n_frames", 1) == 1 and b"Canon" not in data
    assert stored.size == (451, 300)


def _png_with(**save_options):
    buffer = io.BytesIO()
    Image.open(CONTENT_DIR / "chelsea.png").convert("RGB").save(buffer, "PNG", **save_options)
    return buffer.getvalue()


def test_a_plain_png_keeps_its_image_data_byte_for_byte_but_loses_text_time_and_size():
    """A PNG without EXIF or profile keeps its compressed image as uploaded; its text, dpi and time stamp go."""
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "Jane at 12 Rue X")
    info.add_itxt("Description", "Holiday at home", zip=True)
    info.add(b"tIME", b"\x07\xea\x0b\x1c\x0c\x00\x00")
    uploaded = _png_with(pnginfo=info, dpi=(300, 300), compress_level=1)  # not what writing it again would give
    data, extension = without_metadata(io.BytesIO(uploaded))
    stored = Image.open(io.BytesIO(data))
    assert extension == ".png" and stored.size == (451, 300)
    assert b"Jane" not in data and b"Description" not in data and b"tIME" not in data and b"pHYs" not in data
    assert not set(stored.info) & {"Author", "Description", "dpi"}
    assert data[data.index(b"IDAT") - 4:] == uploaded[uploaded.index(b"IDAT") - 4:]
    assert stored.tobytes() == Image.open(io.BytesIO(uploaded)).tobytes()


def test_a_png_with_exif_orientation_is_stored_upright_without_it():
    """A PNG's own eXIf chunk (orientation 6, GPS) is applied and dropped: the stored image is upright."""
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 51.0, 29.5)}
    buffer = io.BytesIO()
    Image.open(CONTENT_DIR / "chelsea.png").convert("RGB").transpose(Image.Transpose.ROTATE_90).save(
        buffer, "PNG", exif=exif)
    data, extension = without_metadata(io.BytesIO(buffer.getvalue()))
    stored = Image.open(io.BytesIO(data))
    assert extension == ".png" and stored.size == (451, 300) and len(stored.getexif()) == 0
    assert b"eXIf" not in data


def test_a_png_with_a_colour_profile_is_converted_to_srgb_without_it():
    """A PNG's iCCP profile is applied to its pixels and not stored."""
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    data, _ = without_metadata(io.BytesIO(_png_with(icc_profile=profile)))
    stored = Image.open(io.BytesIO(data))
    assert b"iCCP" not in data and "icc_profile" not in stored.info and stored.size == (451, 300)
