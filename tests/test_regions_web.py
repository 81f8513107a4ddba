"""Regions painted on the photo, as the page, the API, "Try another method" and the CLI take them.

How each method honours regions is tests/test_region_methods.py's; here: what is
accepted, what is refused with which code (storing nothing), what is stored, and
that the worker honours what was stored.
"""
import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse
from PIL import Image

from tfapp import engines
from tfapp.alternatives import alternatives
from tfapp.methods.base import Capabilities
from tfapp.methods.magenta import Lite
from tfapp.models import Transfer

from .conftest import CONTENT_DIR, STYLE_DIR, image_bytes, make_image, media_files, upload

pytestmark = pytest.mark.django_db

PHOTO = (96, 64)
#: Columns either side of the middle left out when comparing a half with the photo.
BAND = 12


def mask_png(size=PHOTO, right=1, mode="L"):
    """A mask whose left half is region 0 and right half region ``right``."""
    width, height = size
    labels = np.zeros((height, width), np.uint8)
    labels[:, width // 2:] = right
    image = Image.fromarray(labels, "L")
    return image_bytes(image if mode == "L" else image.convert(mode))


def mask_upload(data=None):
    return SimpleUploadedFile("regions.png", data if data is not None else mask_png(), content_type="image/png")


def sent(**fields):
    """The upload form's fields: a 96x64 photo, one style, and ``fields``."""
    return {"content_image": upload("photo.png", make_image(PHOTO)),
            "style_image": upload("style.png", make_image((64, 64), color=(200, 30, 30), pattern=False)),
            **fields}


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """Post the upload form as the page does, running the job it enqueues."""
    def send(**fields):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("tfapp:upload"), sent(**fields))
    return send


class NoRegions(Lite):
    """Magenta's declaration without regions, as a method that cannot honour them declares itself."""

    name = "no-regions"
    label = "No regions"
    capabilities = Capabilities(strength=True, blending=True, style_vectors=True)
    reasons = {"regions": "This method sees the whole photo at once."}


@pytest.fixture
def no_regions_method(monkeypatch):
    monkeypatch.setitem(engines.METHODS, NoRegions.name, f"{__name__}.NoRegions")
    return NoRegions.name


def halves_of(image):
    pixels = np.asarray(image.convert("RGB")).astype(int)
    middle = pixels.shape[1] // 2
    return pixels[:, :middle - BAND], pixels[:, middle + BAND:]


def assert_right_half_kept(transfer):
    """The result's right half is the stored photo's; its left half is painted."""
    with transfer.result_image.open("rb") as result, transfer.content_image.open("rb") as photo:
        result_halves, photo_halves = halves_of(Image.open(result)), halves_of(Image.open(photo))
    assert np.abs(result_halves[1] - photo_halves[1]).max() <= 1
    assert np.abs(result_halves[0] - photo_halves[0]).mean() > 10


REFUSED = [
    # (what is sent besides the photo and one style, code, field)
    ({"mask": mask_upload(b"not a png")}, "mask_not_image", "mask"),
    ({"mask": mask_upload(mask_png((64, 64)))}, "mask_aspect", "mask"),
    ({"mask": mask_upload(mask_png(right=4))}, "mask_values", "mask"),
    ({"mask": mask_upload(mask_png(mode="RGB"))}, "mask_channels", "mask"),
    ({"mask": mask_upload()}, "too_many_regions", "mask"),
    ({"mask": mask_upload(), "region_styles": "1,2"}, "region_style_missing", "region_styles"),
    ({"mask": mask_upload(), "region_styles": "1,keep", "feather": "999"}, "feather", "feather"),
    ({"mask": mask_upload(), "region_styles": "1,keep", "method": "no-regions"}, "regions_unsupported", None),
]


@pytest.mark.parametrize("fields, code, field", REFUSED, ids=[case[1] for case in REFUSED])
def test_an_unusable_mask_is_refused_with_its_code_and_nothing_is_stored(client, token, isolated_storage,
                                                                         no_regions_method, fields, code, field):
    """The API answers each reason a mask is refused with its code and field; no row and no file are left."""
    response = client.post("/api/transfers", sent(**fields), HTTP_AUTHORIZATION=f"Bearer {token}")
    body = response.json()
    assert (response.status_code, body["code"], body["field"]) == (400, code, field), body
    assert body["message"]
    assert not Transfer.objects.exists()
    assert media_files(isolated_storage) == []


def test_a_method_without_regions_is_refused_with_its_reason_on_the_page(client, no_regions_method):
    """The upload page shows the method's own reason, and stores nothing."""
    response = client.post(reverse("tfapp:upload"), sent(mask=mask_upload(), region_styles="1,keep",
                                                         method=no_regions_method))
    assert response.status_code == 200
    assert response.context["form"].errors.as_data()["__all__"][0].code == "regions_unsupported"
    assert "This method sees the whole photo at once." in response.content.decode()
    assert not Transfer.objects.exists()


def test_a_painted_mask_is_stored_and_a_kept_region_stays_the_photo(post):
    """Region 1 kept: the stored transfer has the mask and its styles, and the result's right half is the photo."""
    post(mask=mask_upload(), region_styles="1,keep", feather="4")
    transfer = Transfer.objects.get()
    assert transfer.status == Transfer.Status.DONE, transfer.error_message
    assert (transfer.region_styles, transfer.feather) == ("1,keep", 4)
    with transfer.regions_mask.open("rb") as stored:
        mask = Image.open(stored)
        assert (mask.mode, mask.size) == ("L", PHOTO)
        assert np.array_equal(np.asarray(mask), np.asarray(Image.open(io.BytesIO(mask_png()))))
    assert_right_half_kept(transfer)


def test_a_half_size_mask_is_stored_at_the_photos_size(post):
    """A mask painted at half the photo's size (same aspect ratio) is stored at the photo's size."""
    post(mask=mask_upload(mask_png((48, 32))), region_styles="1,keep")
    with Transfer.objects.get().regions_mask.open("rb") as stored:
        assert Image.open(stored).size == PHOTO


def test_the_mask_is_read_against_the_upright_photo(client, token):
    """A phone photo stored sideways (EXIF orientation 6) takes a mask painted on it as shown: upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = SimpleUploadedFile("phone.jpg", image_bytes(make_image(PHOTO), "JPEG", exif=exif), "image/jpeg")
    upright_mask = mask_upload(mask_png((PHOTO[1], PHOTO[0])))
    data = {**sent(mask=upright_mask, region_styles="1,keep"), "content_image": sideways}
    response = client.post("/api/transfers", data, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 201, response.content
    sideways.seek(0)
    data = {**sent(mask=mask_upload(), region_styles="1,keep"), "content_image": sideways}
    assert client.post("/api/transfers", data, HTTP_AUTHORIZATION=f"Bearer {token}").json()["code"] == "mask_aspect"


def test_without_a_mask_a_transfer_has_no_regions(post):
    """Region styles and feather sent without a mask change nothing: the transfer is as it was before regions."""
    post(region_styles="keep", feather="8")
    transfer = Transfer.objects.get()
    assert transfer.status == Transfer.Status.DONE
    assert (transfer.regions_mask.name, transfer.region_styles, transfer.feather) == ("", "", 0)


def test_trying_another_method_keeps_the_regions(client, post, django_capture_on_commit_callbacks):
    """"Try another method" re-runs with the same mask, region styles and feather, as a sibling."""
    post(mask=mask_upload(), region_styles="1,keep", feather="2")
    first = Transfer.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tfapp:try_method", args=[first.public_id]), {"method": "magenta"})
    second = Transfer.objects.exclude(pk=first.pk).get()
    assert second.status == Transfer.Status.DONE, second.error_message
    assert (second.region_styles, second.feather, second.inputs_id) == ("1,keep", 2, first.inputs_id)
    with first.regions_mask.open("rb") as one, second.regions_mask.open("rb") as other:
        assert one.read() == other.read()
    assert_right_half_kept(second)


def test_a_method_without_regions_is_not_offered_for_a_transfer_with_them(post, no_regions_method):
    """The result page offers no method that cannot honour the regions, and says why."""
    post(mask=mask_upload(), region_styles="1,keep")
    offered = {alternative.offer.name: alternative for alternative in alternatives(Transfer.objects.get())}
    refused = offered[no_regions_method]
    assert not refused.runnable
    assert refused.refusals == [("", "This method sees the whole photo at once.")]


def test_edit_and_rerun_reopens_the_painter_with_the_regions(client, post):
    """The re-run page gives the painter the stored mask, region styles and feather."""
    post(mask=mask_upload(), region_styles="1,keep", feather="6")
    transfer = Transfer.objects.get()
    page = client.get(reverse("tfapp:upload") + f"?from={transfer.public_id}").content.decode()
    assert f'data-regions-mask="{transfer.regions_mask.url}"' in page
    assert 'name="region_styles" value="1,keep"' in page
    assert 'name="feather" value="6"' in page


def test_the_result_page_shows_the_regions_with_a_legend(client, post):
    """The result page has the mask as a toggled overlay and says what each region got."""
    post(mask=mask_upload(), region_styles="1,keep")
    transfer = Transfer.objects.get()
    page = client.get(transfer.get_absolute_url()).content.decode()
    assert transfer.regions_mask.url in page
    assert 'id="regions-toggle"' in page
    assert "Region 1" in page and "Keeps the photo" in page


def test_deleting_a_transfer_deletes_its_mask(post, isolated_storage, django_capture_on_commit_callbacks):
    post(mask=mask_upload(), region_styles="1,keep")
    assert any(name.endswith("/regions.png") for name in media_files(isolated_storage))
    with django_capture_on_commit_callbacks(execute=True):
        Transfer.objects.get().delete()
    assert media_files(isolated_storage) == []


def test_the_api_schema_describes_the_regions_fields(client):
    body = client.get("/api/openapi.json").json()["paths"]["/api/transfers"]["post"]["requestBody"]
    properties = body["content"]["multipart/form-data"]["schema"]["properties"]
    assert properties["mask"]["format"] == "binary"
    assert properties["region_styles"]["type"] == "string"
    assert properties["feather"]["type"] == "integer"


@pytest.fixture
def token(django_user_model):
    from tfapp.models import ApiToken
    return ApiToken.issue(django_user_model.objects.create_user("ada"), "tests")[1]


def test_the_command_line_keeps_a_region_as_the_photo(tmp_path):
    """stylize --mask --region-styles 1,keep paints the left half and leaves the right half the photo."""
    photo, mask, output = tmp_path / "photo.png", tmp_path / "mask.png", tmp_path / "out.png"
    make_image(PHOTO).save(photo)
    mask.write_bytes(mask_png())
    call_command("stylize", str(photo), str(STYLE_DIR / "starry_night.jpg"), "--mask", str(mask),
                 "--region-styles", "1,keep", "--feather", "4", "-o", str(output))
    result_halves, photo_halves = halves_of(Image.open(output)), halves_of(Image.open(photo))
    assert np.abs(result_halves[1] - photo_halves[1]).max() <= 1
    assert np.abs(result_halves[0] - photo_halves[0]).mean() > 10


def test_the_command_line_paints_two_regions_in_two_styles(tmp_path):
    """Two styles and a two-region mask: each half is nearer its own painting's colours."""
    red, blue = tmp_path / "red.png", tmp_path / "blue.png"
    make_image((64, 64), color=(220, 20, 20), pattern=False).save(red)
    make_image((64, 64), color=(20, 40, 220), pattern=False).save(blue)
    mask, output = tmp_path / "mask.png", tmp_path / "out.png"
    mask.write_bytes(mask_png())
    call_command("stylize", str(CONTENT_DIR / "chelsea.png"), str(red), str(blue), "--mask", str(mask),
                 "--region-styles", "2,1", "--max-size", "96", "-o", str(output))
    left, right = halves_of(Image.open(output))
    assert left[..., 2].mean() - left[..., 0].mean() > right[..., 2].mean() - right[..., 0].mean()


@pytest.mark.parametrize("arguments, message", [
    (["--mask", "{mask_aspect}"], "aspect ratio"),
    (["--mask", "{mask}", "--region-styles", "3,keep"], "points at no style"),
    (["--mask", "{missing}"], "Could not read the mask"),
    (["--region-styles", "1,keep"], "give a mask"),
])
def test_the_command_line_refuses_an_unusable_mask(tmp_path, arguments, message):
    """Each refusal is a CommandError with the reason, and nothing is written."""
    photo, output = tmp_path / "photo.png", tmp_path / "out.png"
    make_image(PHOTO).save(photo)
    (tmp_path / "mask.png").write_bytes(mask_png())
    (tmp_path / "square.png").write_bytes(mask_png((64, 64)))
    paths = {"mask": tmp_path / "mask.png", "mask_aspect": tmp_path / "square.png", "missing": tmp_path / "none.png"}
    arguments = [argument.format(**paths) for argument in arguments]
    with pytest.raises(CommandError, match=message):
        call_command("stylize", str(photo), str(STYLE_DIR / "starry_night.jpg"), *arguments, "-o", str(output))
    assert not output.exists()


def test_a_transfer_whose_mask_is_gone_fails_saying_so(client):
    """A worker that finds the stored mask missing fails the transfer with a sentence, not an unexpected error."""
    from tfapp.processing import run_transfer

    response = client.post(reverse("tfapp:upload"), sent(mask=mask_upload(), region_styles="1,keep"))
    assert response.status_code == 302
    transfer = Transfer.objects.get()
    assert transfer.status == Transfer.Status.QUEUED  # the job runs on commit, which this test never reaches
    transfer.regions_mask.storage.delete(transfer.regions_mask.name)
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.FAILED
    assert transfer.error_message == "The regions painted for this transfer are missing; paint them again."
