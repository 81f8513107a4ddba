"""Clips from the upload page and the API: stored, run by the worker path into an H.264 MP4 with a poster.

Bad clips get their VideoError's code and store nothing. The clips are made in code
with PyAV (tests/clips.py): 64 x 48 px, a few frames at 10 fps, with an AAC track.
"""
import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tfapp import tasks
from tfapp.models import Transfer
from tfapp.processing import TransferProgress, run_transfer

from .clips import moving_frames, write_clip
from .conftest import make_image, media_files, upload
from .test_api import auth, token  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.model]

FRAMES = 6


def clip_file(tmp_path, name="clip.mp4", frames=FRAMES, size=(64, 48), audio="aac", **options):
    """A clip written with PyAV, as a browser uploads it."""
    path = write_clip(tmp_path / name, moving_frames(*size, frames), fps=10, audio=audio, **options)
    return SimpleUploadedFile(name, path.read_bytes(), content_type="video/mp4")


def style():
    return upload("style.png", make_image((64, 64)))


@pytest.fixture
def post(client, django_capture_on_commit_callbacks):
    """Post the upload form like the browser, running the job it enqueues (the test settings run it at once)."""
    def post(content, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("tfapp:upload"), {"content_image": content, "style_image": style(), **fields})
    return post


def decoded(path):
    """The video stream's codec, pixel format, rate and frame count, and whether an audio track is there."""
    with av.open(str(path)) as clip:
        stream = clip.streams.video[0]
        codec, pixels, rate = stream.codec_context.name, stream.codec_context.pix_fmt, stream.average_rate
        frames = sum(1 for _ in clip.decode(video=0))
    with av.open(str(path)) as clip:
        return codec, pixels, rate, frames, bool(clip.streams.audio)


def test_a_clip_from_the_upload_page_becomes_a_playable_mp4_with_a_poster(client, post, tmp_path, isolated_storage):
    response = post(clip_file(tmp_path), consistency="0.5")
    transfer = Transfer.objects.get()
    assert response.status_code == 302, response.context["form"].errors
    assert transfer.status == Transfer.Status.DONE, transfer.error_message
    assert (transfer.frames_total, transfer.frames_done, transfer.consistency) == (FRAMES, FRAMES, 0.5)
    assert decoded(transfer.result_clip.path) == ("h264", "yuv420p", 10, FRAMES, True)
    # The clip's first frame stands for it as the photo; a finished frame is the poster.
    assert Image.open(transfer.content_image.path).size == (64, 48)
    assert Image.open(transfer.result_image.path).size == (transfer.result_width, transfer.result_height)
    # The kept frames are gone; every file left is one the row lists.
    assert media_files(isolated_storage) == sorted(field.name for field in transfer.files())

    page = client.get(transfer.get_absolute_url()).content.decode()
    assert '<video controls' in page and f'poster="{transfer.result_image.url}"' in page
    assert f'src="{transfer.result_clip.url}" type="video/mp4"' in page
    download = client.get(reverse("tfapp:download", args=[transfer.public_id]))
    assert download["Content-Type"] == "video/mp4"
    assert b"".join(download.streaming_content) == open(transfer.result_clip.path, "rb").read()
    gallery = client.get(reverse("tfapp:gallery")).content.decode()
    assert transfer.result_thumbnail.url in gallery and "Clip" in gallery


def test_the_api_takes_a_clip_and_describes_its_mp4(client, tmp_path, token, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/transfers", {"content_image": clip_file(tmp_path), "style_image": style(),
                                                  "consistency": "0"}, **auth(token))
    assert response.status_code == 201, response.json()
    described = client.get(f"/api/transfers/{response.json()['id']}", **auth(token)).json()
    transfer = Transfer.objects.get()
    assert described["status"] == "done", described["error"]
    assert described["result_url"].endswith(transfer.result_clip.url)
    assert described["poster_url"].endswith(transfer.result_image.url)
    assert (described["frames"], described["frames_done"], transfer.consistency) == (FRAMES, FRAMES, 0.0)
    result = client.get(f"/api/transfers/{transfer.public_id}/result", **auth(token))
    assert result["Content-Type"] == "video/mp4"
    schema = client.get("/api/openapi.json").json()
    body = schema["paths"]["/api/transfers"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert "consistency" in body["properties"] and "clip" in body["properties"]["content_image"]["description"]


def test_a_cancelled_clip_stops_at_its_next_frame_and_leaves_nothing(settings, tmp_path, client, monkeypatch,
                                                                      isolated_storage):
    """Its owner cancels it after three frames: the third frame's report stops it; no frames, no MP4 remain."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "slow"]}}
    client.post(reverse("tfapp:upload"), {"content_image": clip_file(tmp_path, frames=20), "style_image": style()})
    transfer = Transfer.objects.get()
    reports = []
    report = TransferProgress.report

    def cancel_at_the_third_frame(progress, fraction, preview=None):
        reports.append(fraction)
        if len(reports) == 3:
            tasks.cancel(Transfer.objects.get(pk=transfer.pk))
        return report(progress, fraction, preview)

    monkeypatch.setattr(TransferProgress, "report", cancel_at_the_third_frame)
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.CANCELLED
    assert len(reports) == 3
    assert media_files(isolated_storage) == sorted(field.name for field in transfer.files())
    assert not transfer.result_clip


BAD_CLIPS = {}


@pytest.mark.parametrize("name", sorted(BAD_CLIPS))
def test_a_bad_clip_is_refused_with_its_code_and_stores_nothing(name, client, tmp_path, token, isolated_storage,
                                                                settings):
    make, code = BAD_CLIPS[name]
    content = make(tmp_path, settings)
    response = client.post(reverse("tfapp:upload"), {"content_image": content, "style_image": style()})
    assert response.status_code == 200
    assert [error.code for error in response.context["form"].errors.as_data()["content_image"]] == [code]
    content.seek(0)
    api = client.post("/api/transfers", {"content_image": content, "style_image": style()}, **auth(token))
    assert api.status_code in (400, 413) and api.json()["code"] == code and api.json()["field"] == "content_image"
    assert not Transfer.objects.exists() and media_files(isolated_storage) == []
