"""Clips from the upload page and the API: stored, run by the worker path into an H.264 MP4 with a poster.

Bad clips get their VideoError's code and store nothing. The clips are made in code
with PyAV (tests/clips.py): 64 x 48 px, a few frames at 10 fps, with an AAC track.
"""
import io
import os
import shutil
import signal

import av
import numpy as np
import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tfapp import tasks, video
from tfapp.clip_loop import ENCODE_SHARE
from tfapp.models import ApiToken, Transfer
from tfapp.processing import TransferProgress, run_transfer

from .clips import decoded_frames, moving_frames, write_clip, write_tone
from .conftest import CHROMIUM, STYLE_DIR, make_image, media_files, upload, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.model]

FRAMES = 6


def clip_file(tmp_path, name="clip.mp4", frames=FRAMES, size=(64, 48), audio="aac", **options):
    """A clip written with PyAV, as a browser uploads it."""
    path = write_clip(tmp_path / name, moving_frames(*size, frames), fps=10, audio=audio, **options)
    return SimpleUploadedFile(name, path.read_bytes(), content_type="video/mp4")


@pytest.fixture
def token():
    """A user's personal API token."""
    return ApiToken.issue(User.objects.create_user("ada", password="pw-for-tests"), "tests")[1]


def auth(key):
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


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
    """Each frame is reported (share, frames, time left, the frame as the preview); its owner cancels it after
    three frames: the third frame's report stops it; no frames, no preview, no MP4 remain."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "slow"]}}
    client.post(reverse("tfapp:upload"), {"content_image": clip_file(tmp_path, frames=20), "style_image": style()})
    transfer = Transfer.objects.get()
    reports, states = [], []
    report = TransferProgress.report
    settings.NST_PREVIEW_INTERVAL = 0
    settings.NST_STATUS_WAIT = 0

    def cancel_at_the_third_frame(progress, fraction, preview=None):
        reports.append(fraction)
        if len(reports) == 2:
            # The first frame's report is on the row: the share and frames done, and that frame as the preview.
            state = client.get(reverse("tfapp:status", args=[transfer.public_id])).json()
            states.append(state)
            assert Image.open(Transfer.objects.get(pk=transfer.pk).preview_image.path).size == (64, 48)
        if len(reports) == 3:
            tasks.cancel(Transfer.objects.get(pk=transfer.pk))
        return report(progress, fraction, preview)

    monkeypatch.setattr(TransferProgress, "report", cancel_at_the_third_frame)
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.CANCELLED
    assert len(reports) == 3
    assert states[0]["status"] == "running" and (states[0]["frames_done"], states[0]["frames"]) == (1, 20)
    assert states[0]["progress"] == pytest.approx((1 - ENCODE_SHARE) / 20) and states[0]["eta_seconds"] is not None
    assert states[0]["preview_url"] and states[0]["result_url"] is None
    assert media_files(isolated_storage) == sorted(field.name for field in transfer.files())
    assert not transfer.result_clip


def _named(name, data):
    return SimpleUploadedFile(name, data, content_type="video/mp4")


def _truncated(tmp_path, settings):
    data = clip_file(tmp_path).read()
    return _named("cut.mp4", data[:len(data) * 2 // 3])


def _audio_only(tmp_path, settings):
    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w", format="mp4") as output:
        sound = output.add_stream("aac", rate=48000)
        write_tone(output, sound, 0.5)
    return _named("tone.mp4", path.read_bytes())


def _no_frames(tmp_path, settings):
    path = tmp_path / "empty.mkv"
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        write_tone(output, output.add_stream("aac", rate=48000), 0.5)
    return _named("empty.mkv", path.read_bytes())


def _unknown_codec(tmp_path, settings):
    return _named("unknown.mp4", clip_file(tmp_path).read().replace(b"avc1", b"zzzz"))


def _one_pixel(tmp_path, settings):
    frames = [np.full((1, 1, 3), 128 * (index % 2), np.uint8) for index in range(4)]
    path = write_clip(tmp_path / "dot.mov", frames, codec="png", pixel_format="rgb24", container_format="mov")
    return _named("dot.mov", path.read_bytes())


def _over(setting, value):
    def make(tmp_path, settings):
        setattr(settings, setting, value)
        return clip_file(tmp_path)
    return make


#: Each bad clip, made in code, and the code the form and the API refuse it with.
BAD_CLIPS = {
    "not a video": (lambda tmp_path, settings: _named("clip.mp4", b"plain text, not a video\n" * 40), "not_video"),
    "truncated": (_truncated, "truncated"),
    "audio only": (_audio_only, "no_video_stream"),
    "zero frames": (_no_frames, "no_frames"),
    "unknown codec": (_unknown_codec, "unsupported_codec"),
    "1x1": (_one_pixel, "too_small"),
    "too long": (_over("NST_VIDEO_MAX_SECONDS", 0.3), "too_long"),
    "too many frames": (_over("NST_VIDEO_MAX_FRAMES", 3), "too_many_frames"),
    "too big a file": (_over("NST_VIDEO_MAX_BYTES", 1000), "too_big_file"),
}


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


@pytest.mark.workers
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_clip_is_resumed_from_its_frames_and_ends_as_an_uninterrupted_run(
        client, settings, workers, tmp_path, isolated_storage):
    """SIGKILL half-way through a clip: the next attempt starts from the frames kept, and its MP4 shows the
    frames of one made in a single attempt from the same clip; no frames folder remains."""
    clip = clip_file(tmp_path, frames=KILLED_CLIP_FRAMES, size=(128, 96), audio=None)
    victim = workers()
    killed = _submit_clip(client, clip)
    frames = isolated_storage / "transfers" / str(killed.public_id) / "work" / "frames"
    wait_for(lambda: frames.is_dir() and len(list(frames.iterdir())) >= 5, timeout=120)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    kept = len([frame for frame in frames.iterdir() if not frame.name.endswith(".partial.png")])
    assert kept < KILLED_CLIP_FRAMES
    workers()
    wait_for(lambda: Transfer.objects.get(pk=killed.pk).status == Transfer.Status.DONE, timeout=180)
    clip.seek(0)
    whole = _submit_clip(client, clip)
    wait_for(lambda: Transfer.objects.get(pk=whole.pk).status == Transfer.Status.DONE, timeout=180)
    killed.refresh_from_db()
    whole.refresh_from_db()
    assert (killed.attempts, whole.attempts) == (2, 1)
    resumed, uninterrupted = decoded_frames(killed.result_clip.path), decoded_frames(whole.result_clip.path)
    assert len(resumed) == KILLED_CLIP_FRAMES
    # The second attempt took the frames the first had kept...
    log = (tmp_path / "worker-1.log").read_text()
    assert f"{KILLED_CLIP_FRAMES} frames stylized by attempt 2, {kept} of them resumed" in log
    # ...and its MP4 shows the very frames of one made in one go (x264 runs bit-exact: see tfapp.clips).
    assert all(np.array_equal(a, b) for a, b in zip(resumed, uninterrupted, strict=True))
    assert not frames.parent.exists()


KILLED_CLIP_FRAMES = 50


def _submit_clip(client, clip):
    response = client.post(reverse("tfapp:upload"), {"content_image": clip, "style_image": style()})
    assert response.status_code == 302, response.context["form"].errors
    return Transfer.objects.get(public_id=response["Location"].rstrip("/").split("/")[-1])


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM),
                    reason=f"Chromium not installed at {CHROMIUM}")
def test_upload_a_clip_in_chromium_and_play_the_result(live_server, browser, workers, tmp_path):
    """A user drops a clip in the photo's field (the steadiness control appears), submits it, and plays the MP4."""
    path = write_clip(tmp_path / "walk.mp4", moving_frames(96, 72, 8), fps=8, audio="aac")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server.url)
    assert page.locator("#id_consistency").is_hidden()
    page.set_input_files("#id_content_image", str(path))
    assert page.locator("#id_consistency").is_visible()
    # Gatys cannot paint a clip: choosing it says why, beside the clip's control.
    page.check("#id_method_gatys")
    assert "Gatys optimises each picture" in page.locator("[data-reason-for='video']").inner_text()
    page.check("#id_method_magenta")
    assert page.locator("[data-reason-for='video']").is_hidden()
    page.set_input_files("#id_style_image", str(STYLE_DIR / "starry_night.jpg"))
    page.click("#submit-button")
    page.wait_for_url("**/t/*/", timeout=60_000)
    workers()
    video = page.locator("#result-video")
    video.wait_for(state="visible", timeout=120_000)
    transfer = Transfer.objects.get()
    assert video.get_attribute("poster") == transfer.result_image.url
    # Chromium (Debian's, with its H.264 decoder) loads the MP4 and plays it, muted as autoplay rules ask.
    page.evaluate("document.querySelector('#result-video').muted = true")
    page.evaluate("document.querySelector('#result-video').play()")
    page.wait_for_function("document.querySelector('#result-video').readyState >= 2", timeout=30_000)
    page.wait_for_function("document.querySelector('#result-video').currentTime > 0", timeout=30_000)
    assert page.evaluate("document.querySelector('#result-video').videoWidth") == transfer.result_width
    assert page.evaluate("document.querySelector('#result-video').error") is None


def test_a_clip_is_stored_without_its_location_and_keeps_its_rotation(post, tmp_path):
    """A phone's clip says where it was filmed: the stored copy does not; it is still shown upright."""
    filmed = write_clip(tmp_path / "filmed.mov", moving_frames(64, 48, FRAMES), fps=10, audio="aac", rotation=90,
                        container_format="mov")
    tagged = tmp_path / "tagged.mov"
    with av.open(str(filmed)) as source, av.open(str(tagged), "w", format="mov") as target:
        target.metadata["location"] = "+48.8584+002.2945/"
        streams = {stream.index: target.add_stream_from_template(stream) for stream in source.streams}
        for packet in source.demux():
            if packet.dts is not None:
                packet.stream = streams[packet.stream.index]
                target.mux(packet)
    with av.open(str(tagged)) as clip:
        assert clip.metadata["location"] == "+48.8584+002.2945/"
    post(SimpleUploadedFile("tagged.mov", tagged.read_bytes(), content_type="video/quicktime"))
    transfer = Transfer.objects.get()
    stored = open(transfer.content_clip.path, "rb").read()
    assert b"48.8584" not in stored and b"48.8584" in tagged.read_bytes()
    assert video.probe(transfer.content_clip.path).rotation == 90
    assert (transfer.content_width, transfer.content_height) == (48, 64)
    assert transfer.status == Transfer.Status.DONE, transfer.error_message
    assert (transfer.result_width, transfer.result_height) == (48, 64)


def test_edit_and_rerun_and_try_another_method_keep_the_clip(client, post, tmp_path,
                                                             django_capture_on_commit_callbacks):
    """A clip's re-run is a clip again; "Try another method" offers AdaIN and refuses Gatys with its reason."""
    post(clip_file(tmp_path))
    clip = Transfer.objects.get()
    page = client.get(clip.get_absolute_url()).content.decode()
    assert 'data-method="adain"' in page and "Gatys optimises each picture" in page
    assert 'data-method="gatys"' in page.split("Gatys optimises each picture")[0].rsplit("<li", 1)[1]

    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tfapp:try_method", args=[clip.public_id]), {"method": "adain"})
        client.post(reverse("tfapp:upload"), {"source": clip.public_id, "consistency": "0.2"})
    adain, rerun = Transfer.objects.exclude(pk=clip.pk).order_by("created_at")
    assert (adain.method, rerun.method, rerun.consistency) == ("adain", "magenta", 0.2)
    for transfer in (adain, rerun):
        assert transfer.status == Transfer.Status.DONE, transfer.error_message
        assert transfer.frames_total == FRAMES and transfer.inputs_id == clip.inputs_id
        assert decoded(transfer.result_clip.path)[3] == FRAMES
    refused = client.post(reverse("tfapp:try_method", args=[clip.public_id]), {"method": "gatys"}, follow=True)
    assert "Gatys optimises each picture" in refused.content.decode()
    assert Transfer.objects.count() == 3


def test_an_animated_gif_is_a_clip_and_a_still_gif_a_photo(post, tmp_path, admin_client):
    """An animated GIF becomes an MP4 of its frames; a one-frame GIF stays a photo. The admin shows the clip."""
    frames = [Image.fromarray(frame) for frame in moving_frames(64, 48, FRAMES)]
    animated = tmp_path / "wave.gif"
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=100, loop=0)
    post(SimpleUploadedFile("wave.gif", animated.read_bytes(), content_type="image/gif"))
    clip = Transfer.objects.get()
    assert clip.is_clip and clip.status == Transfer.Status.DONE, clip.error_message
    assert decoded(clip.result_clip.path)[:4] == ("h264", "yuv420p", 10, FRAMES)

    post(upload("still.gif", make_image((64, 48)), "GIF", "image/gif"))
    photo = Transfer.objects.exclude(pk=clip.pk).get()
    assert not photo.is_clip and photo.result_image.name.endswith(".png") and not photo.frames_total

    admin = admin_client.get(reverse("admin:tfapp_transfer_change", args=[clip.pk])).content.decode()
    assert clip.result_clip.name in admin and clip.content_clip.name in admin


def test_a_failed_clip_leaves_neither_frames_nor_a_result(settings, tmp_path, client, isolated_storage):
    """A clip over its queue's time limit fails with the reason; its kept frames and MP4 are deleted."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "slow"]}}
    client.post(reverse("tfapp:upload"), {"content_image": clip_file(tmp_path), "style_image": style()})
    transfer = Transfer.objects.get()
    settings.NST_JOB_TIME_LIMIT = 0.001  # lowered after it was accepted: it finishes, too late
    run_transfer(transfer.pk)
    transfer.refresh_from_db()
    assert transfer.status == Transfer.Status.FAILED and "limit" in transfer.error_message
    assert not transfer.result_clip and not transfer.result_image
    assert media_files(isolated_storage) == sorted(field.name for field in transfer.files())


def test_deleting_a_clip_deletes_its_kept_frames_and_folder(post, client, tmp_path, isolated_storage,
                                                            django_capture_on_commit_callbacks):
    """Frames a killed attempt kept go with the transfer, and so does its folder."""
    post(clip_file(tmp_path))
    transfer = Transfer.objects.get()
    frames = isolated_storage / "transfers" / str(transfer.public_id) / "work" / "frames"
    frames.mkdir(parents=True)
    (frames / "000000.png").write_bytes(b"a frame a killed attempt kept")
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("tfapp:delete", args=[transfer.public_id]))
    assert not Transfer.objects.exists()
    assert media_files(isolated_storage) == [] and not frames.parent.parent.exists()


def test_regions_painted_on_a_clip_apply_to_every_frame(post, tmp_path):
    """A mask sent with a clip (painted on its first frame) keeps the clip's own picture in a 'keep' region."""
    labels = np.zeros((48, 64), np.uint8)
    labels[:, 32:] = 1
    buffer = io.BytesIO()
    Image.fromarray(labels, "L").save(buffer, format="PNG")
    mask = SimpleUploadedFile("regions.png", buffer.getvalue(), content_type="image/png")
    response = post(clip_file(tmp_path), consistency="0", mask=mask, region_styles="keep,1")
    transfer = Transfer.objects.get()
    assert response.status_code == 302, response.context["form"].errors
    assert transfer.status == Transfer.Status.DONE, transfer.error_message
    source = decoded_frames(write_clip(tmp_path / "again.mp4", moving_frames(64, 48, FRAMES), fps=10))
    for original, painted in zip(source, decoded_frames(transfer.result_clip.path), strict=True):
        difference = np.abs(original.astype(np.float32) - painted.astype(np.float32)).mean(axis=(0, 2))
        assert difference[2:28].mean() < 6 < 30 < difference[36:62].mean()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM),
                    reason=f"Chromium not installed at {CHROMIUM}")
def test_the_page_estimates_a_chosen_clip_as_the_server_does(live_server, browser, tmp_path):
    """With a clip chosen, each method's time is for the clip's frames (Gatys: not for clips), as video.estimate_seconds."""
    from tfapp import conf, engines

    path = write_clip(tmp_path / "walk.mp4", moving_frames(320, 240, 60), fps=30)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(live_server.url)
    page.set_input_files("#id_content_image", str(path))
    page.locator("[data-method-time='adain']", has_text="your clip").wait_for(timeout=30_000)
    seconds = video.estimate_seconds(engines.method_class("adain"), video.probe(path), max_size=conf.max_content_size())
    expected = "under a second" if seconds < 1 else f"about {round(seconds)} s" if seconds < 90 else \
        f"about {round(seconds / 60)} min"
    assert page.locator("[data-method-time='adain']").inner_text() == f"{expected} for your clip (60 frames)"
    assert page.locator("[data-method-time='gatys']").inner_text() == "not for clips"
