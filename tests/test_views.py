"""The pages a user sees: upload, result, download and gallery."""
import io
import uuid
from importlib import import_module

import pytest
from django.apps import apps as django_apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tfapp import engines
from tfapp.models import Transfer

from .conftest import (
    CONTENT_DIR,
    STYLE_DIR,
    make_image,
    media_files,
    shared_upload,
    upload,
)
from .factories import make_preset

pytestmark = pytest.mark.django_db


@pytest.fixture
def submit(client, django_capture_on_commit_callbacks):
    """Post an upload like the browser, running the job it enqueues."""
    def post(content=None, style=None):
        files = {"content_image": content or upload("photo.png", make_image((96, 64))),
                 "style_image": style or upload("style.png", make_image((64, 64)))}
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("tfapp:upload"), files)
    return post


def test_upload_page_shows_both_file_fields(client):
    """The home page offers a photo and a style upload."""
    response = client.get(reverse("tfapp:upload"))
    assert response.status_code == 200
    assert b'name="content_image"' in response.content
    assert b'name="style_image"' in response.content
    assert b"unavailable" not in response.content


def test_valid_upload_redirects_to_the_result_page(client, submit):
    """Submitting two images stylizes them and redirects to the transfer's own page."""
    response = submit()
    transfer = Transfer.objects.get()
    assert response.status_code == 302
    assert response["Location"] == transfer.get_absolute_url()
    assert transfer.status == Transfer.Status.DONE
    assert (transfer.result_width, transfer.result_height) == (96, 64)


def test_result_page_shows_photo_style_and_result(client, submit):
    """The result page shows the three images and a download link."""
    submit()
    transfer = Transfer.objects.get()
    page = client.get(transfer.get_absolute_url()).content.decode()
    for field in (transfer.content_image, transfer.first_style.image, transfer.result_image):
        assert field.url in page
    assert reverse("tfapp:download", args=[transfer.public_id]) in page


def test_real_photo_is_stylized_at_its_aspect_ratio(client, settings, submit):
    """A 451x300 photo comes back as 451x300 (under the 512 px limit) and differs from the input."""
    submit(shared_upload(CONTENT_DIR / "chelsea.png"), shared_upload(STYLE_DIR / "the_scream.jpg"))
    transfer = Transfer.objects.get()
    with transfer.result_image.open("rb") as stored:
        result = Image.open(stored).convert("RGB")
        result.load()
    assert result.size == (451, 300)
    with transfer.content_image.open("rb") as stored:
        original = Image.open(stored).convert("RGB")
        original.load()
    assert result.tobytes() != original.tobytes()


def test_large_photo_is_limited_to_max_content_size(client, settings, submit):
    """A 1200x600 photo is stylized at 512x256 by default."""
    submit(upload("big.png", make_image((1200, 600))))
    transfer = Transfer.objects.get()
    assert (transfer.result_width, transfer.result_height) == (512, 256)


def test_timings_and_parameters_are_recorded(client, submit):
    """Each stage's time and the parameters used are stored on the transfer."""
    submit()
    transfer = Transfer.objects.get()
    assert transfer.engine == "lite"
    assert (transfer.max_size, transfer.style_size, transfer.style_pooling) == (512, 256, True)
    assert transfer.model_seconds > 0 and transfer.preprocess_seconds > 0 and transfer.encode_seconds > 0


def test_result_page_shows_timings_in_readable_units(client, submit):
    """Stages under a second read in milliseconds, longer ones in seconds; unknown ones as a dash."""
    submit()
    transfer = Transfer.objects.get()
    Transfer.objects.filter(pk=transfer.pk).update(model_seconds=1.234, encode_seconds=0.0046,
                                                    preprocess_seconds=None)
    page = client.get(transfer.get_absolute_url()).content.decode()
    assert "<dt>Model</dt><dd>1.23 s</dd>" in page
    assert "<dt>Encoding</dt><dd>5 ms</dd>" in page
    assert "<dt>Preprocessing</dt><dd>—</dd>" in page


def test_download_is_a_png_attachment_of_the_result(client, submit):
    """Download sends the result as a PNG file with a readable name."""
    submit()
    transfer = Transfer.objects.get()
    response = client.get(reverse("tfapp:download", args=[transfer.public_id]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"].startswith('attachment; filename="stylized-')
    image = Image.open(io.BytesIO(b"".join(response.streaming_content)))
    assert image.format == "PNG" and image.size == (96, 64)


def test_unknown_transfer_is_404(client):
    """A made-up id shows the not-found page."""
    assert client.get(reverse("tfapp:detail", args=[uuid.uuid4()])).status_code == 404
    assert client.get(reverse("tfapp:download", args=[uuid.uuid4()])).status_code == 404


def test_invalid_upload_shows_errors_and_stores_nothing(client, isolated_storage, submit):
    """A rejected upload re-shows the form with the reason, and leaves no row and no file."""
    response = submit(content=SimpleUploadedFile("notes.png", b"not an image"))
    assert response.status_code == 200
    assert b"not an image" in response.content
    assert Transfer.objects.count() == 0
    assert media_files(isolated_storage) == []


def test_empty_post_asks_for_a_photo_and_a_style(client):
    """Submitting with no files says a photo is required and asks for a style; no 500."""
    response = client.post(reverse("tfapp:upload"), {})
    assert response.status_code == 200
    assert b"This field is required" in response.content
    assert b"Choose a style" in response.content


def test_each_transfer_stores_its_files_under_unique_names(client, isolated_storage, submit):
    """Two users' uploads with the same file names never overwrite each other."""
    submit()
    submit()
    first, second = Transfer.objects.all()
    assert first.result_image.name != second.result_image.name
    assert len(media_files(isolated_storage)) == 12


def test_the_photo_size_is_stored_with_the_transfer(client, submit):
    """The photo's width and height are saved with the upload, not read from the photo at each page view."""
    submit(content=upload("photo.png", make_image((96, 64))))
    assert list(Transfer.objects.values_list("content_width", "content_height")) == [(96, 64)]


def test_migration_0008_records_the_size_of_earlier_transfers(client, submit):
    """Transfers stored before the fix get their photo's size; one whose photo is gone is left as it is."""
    submit(content=upload("photo.png", make_image((96, 64))))
    submit(content=upload("photo.png", make_image((40, 30))))
    kept, gone = Transfer.objects.order_by("pk")
    gone.content_image.storage.delete(gone.content_image.name)
    Transfer.objects.update(content_width=None, content_height=None)
    import_module("tfapp.migrations.0008_content_sizes").record_sizes(django_apps, None)
    assert list(Transfer.objects.order_by("pk").values_list("content_width", "content_height")) == [
        (96, 64), (None, None)]


def test_model_is_loaded_once_for_many_requests(client, submit):
    """Many transfers reuse the process's model instead of loading it again."""
    engines.get()
    loads = engines.load_count
    for _ in range(5):
        submit()
    assert engines.load_count == loads
    assert Transfer.objects.finished().count() == 5


def test_unavailable_model_is_explained_on_the_upload_page(client, settings, fresh_engine, tmp_path):
    """Without model files, the page still loads and says why the model is unavailable."""
    settings.NST_LITE_MODEL_DIR = tmp_path / "empty"
    response = client.get(reverse("tfapp:upload"))
    assert response.status_code == 200
    assert b"model is unavailable" in response.content
    assert b"NST_LITE_MODEL_DIR" in response.content


def test_submitting_while_model_unavailable_stores_nothing(client, settings, fresh_engine, tmp_path,
                                                           isolated_storage, submit):
    """A submission while the model is unavailable is refused with the reason; nothing is stored."""
    settings.NST_LITE_MODEL_DIR = tmp_path / "empty"
    response = submit()
    assert response.status_code == 200
    assert Transfer.objects.count() == 0
    assert media_files(isolated_storage) == []


def test_gallery_lists_finished_transfers_newest_first(client, submit):
    """The gallery links to each finished transfer with its thumbnail."""
    submit()
    submit()
    newest, oldest = Transfer.objects.recent()
    page = client.get(reverse("tfapp:gallery")).content.decode()
    assert page.index(newest.get_absolute_url()) < page.index(oldest.get_absolute_url())
    assert newest.result_thumbnail.url in page


def test_empty_gallery_invites_a_first_transfer(client):
    """With no transfers, the gallery says so and links to the upload page."""
    response = client.get(reverse("tfapp:gallery"))
    assert response.status_code == 200
    assert b"No transfers yet" in response.content


def test_a_new_preset_shows_on_the_home_page_at_once(client):
    """The form's inputs are cached between visitors, but a preset added since is offered on the next visit."""
    assert b"Water Lilies" not in client.get(reverse("tfapp:upload")).content
    make_preset("Water Lilies")
    assert b"Water Lilies" in client.get(reverse("tfapp:upload")).content


def test_a_re_run_form_is_never_served_to_the_next_visitor(client, submit):
    """The re-run page shows the earlier transfer's photo; the plain home page before and after it does not."""
    submit()
    transfer = Transfer.objects.get()
    assert b"Current photo" not in client.get(reverse("tfapp:upload")).content
    assert b"Current photo" in client.get(reverse("tfapp:upload") + f"?from={transfer.public_id}").content
    assert b"Current photo" not in client.get(reverse("tfapp:upload")).content
