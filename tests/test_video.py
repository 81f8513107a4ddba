"""Clips: probing them against the limits, and stylizing them into steady H.264 MP4s with their sound."""
import io
from fractions import Fraction

import av
import numpy as np
import pytest
from PIL import Image

from tfapp import clips, engines, video
from tfapp.exceptions import Cancelled, UnsupportedByEngine, VideoError
from tfapp.methods.base import Progress
from tfapp.methods.gatys import Gatys
from tfapp.pipeline import Options

from .clips import decoded_frames, moving_frames, write_clip, write_tone
from .conftest import STYLE_DIR
from .metrics import warping_error


@pytest.fixture
def clip(tmp_path):
    """Eight 64x48 frames panning 2 px right and 1 px down per frame, at 10 fps, with an AAC tone."""
    return write_clip(tmp_path / "clip.mp4", moving_frames(64, 48, 8), audio="aac")


@pytest.fixture(scope="module")
def painting():
    with Image.open(STYLE_DIR / "starry_night.jpg") as image:
        return image.convert("RGB")


def stylized(source, painting, tmp_path, name="out.mp4", **arguments):
    destination = tmp_path / name
    result = video.stylize_clip(source, destination, [(painting, 1.0)], Options(),
                                work_dir=tmp_path / f"{name}.work", **arguments)
    return destination, result


def probe_error(path):
    with pytest.raises(VideoError) as caught:
        video.probe(path)
    return caught.value.code


def test_probe_describes_a_clip(clip):
    """probe gives the size, rate, frame count, duration, sound and codec of a clip."""
    info = video.probe(clip)
    assert (info.width, info.height, info.fps, info.frames, info.rotation, info.has_audio, info.codec) == (
        64, 48, 10.0, 8, 0, True, "h264")
    assert info.duration == pytest.approx(0.8)


def test_a_file_that_is_not_a_video_is_refused(tmp_path):
    """Text named .mp4 is not_video."""
    path = tmp_path / "notes.mp4"
    path.write_text("these are not pictures")
    assert probe_error(path) == "not_video"


def test_a_clip_cut_short_is_truncated(clip, tmp_path):
    """The first half of an MP4 is truncated, not not_video."""
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])
    assert probe_error(cut) == "truncated"


def test_sound_alone_has_no_video_stream(tmp_path):
    """An audio-only file is no_video_stream, and the message says it has only sound."""
    path = tmp_path / "tone.m4a"
    with av.open(str(path), "w", format="mp4") as output:
        write_tone(output, output.add_stream("aac", rate=48000), 0.5)
    with pytest.raises(VideoError, match="only sound") as caught:
        video.probe(path)
    assert caught.value.code == "no_video_stream"


def test_a_video_stream_without_frames_is_refused(tmp_path):
    """A Matroska file whose video stream holds no picture (only its sound has packets) is no_frames."""
    path = tmp_path / "empty.mkv"
    with av.open(str(path), "w") as output:
        stream = output.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        write_tone(output, output.add_stream("aac", rate=48000), 0.5)
    assert probe_error(path) == "no_frames"


def test_an_unknown_codec_is_unsupported(clip, tmp_path):
    """A video stream whose codec FFmpeg does not know is unsupported_codec."""
    unknown = tmp_path / "unknown.mp4"
    unknown.write_bytes(clip.read_bytes().replace(b"avc1", b"zzzz"))
    assert probe_error(unknown) == "unsupported_codec"


def test_a_one_pixel_clip_is_too_small(tmp_path):
    """A 1x1 animated GIF is too_small."""
    frames = [np.full((1, 1, 3), value, np.uint8) for value in (0, 255)]
    path = write_clip(tmp_path / "dot.gif", frames, codec="gif", pixel_format="rgb8")
    assert probe_error(path) == "too_small"


@pytest.mark.parametrize(("setting", "value", "code"), [
    ("NST_VIDEO_MAX_SECONDS", 0.5, "too_long"),
    ("NST_VIDEO_MAX_FRAMES", 7, "too_many_frames"),
    ("NST_VIDEO_MAX_BYTES", 1000, "too_big_file"),
    ("NST_MAX_UPLOAD_PIXELS", 64 * 48 - 1, "too_large"),
])
def test_each_limit_is_a_setting_with_its_own_code(clip, settings, setting, value, code):
    """A clip just over any limit is refused with that limit's code."""
    setattr(settings, setting, value)
    assert probe_error(clip) == code


def test_a_larger_clip_is_scaled_down_to_the_long_side_limit(clip, settings):
    """Above NST_VIDEO_MAX_SIDE a clip is accepted and its output scaled down, each side even."""
    settings.NST_VIDEO_MAX_SIDE = 40
    assert video.output_size(video.probe(clip)) == (40, 30)


def test_animated_gifs_and_webps_are_clips_still_ones_are_not(tmp_path):
    """looks_like_video: video extensions yes, GIF/WebP only with several frames, photos no."""
    frames = list(moving_frames(32, 32, 3))
    animated, still = tmp_path / "moving.gif", tmp_path / "still.gif"
    Image.fromarray(frames[0]).save(animated, save_all=True, append_images=[Image.fromarray(f) for f in frames[1:]])
    Image.fromarray(frames[0]).save(still)
    buffer = io.BytesIO(animated.read_bytes())
    buffer.name = "upload.gif"
    assert [video.looks_like_video(name) for name in ("a.MP4", "b.mov", "c.webm", "d.mkv", "e.jpg")] == [
        True, True, True, True, False]
    assert (video.looks_like_video(animated), video.looks_like_video(still), video.looks_like_video(buffer)) == (
        True, False, True)
    assert buffer.tell() == 0


@pytest.mark.model
def test_an_animated_webp_becomes_a_video(painting, tmp_path):
    """An animated WebP (read with Pillow) is probed and stylized like any clip, at its frame rate."""
    frames = [Image.fromarray(frame) for frame in moving_frames(64, 48, 5)]
    source = tmp_path / "moving.webp"
    frames[0].save(source, save_all=True, append_images=frames[1:], duration=125, lossless=True)
    info = video.probe(source)
    assert (info.width, info.height, info.fps, info.frames, info.duration, info.codec) == (64, 48, 8.0, 5, 0.625, "webp")
    destination, result = stylized(source, painting, tmp_path)
    assert len(decoded_frames(destination)) == result.frames == 5


def test_rotation_metadata_is_applied(tmp_path):
    """A clip recorded sideways (display matrix 90° counter-clockwise) is read upright."""
    frames = [np.zeros((48, 64, 3), np.uint8) for _ in range(2)]
    for frame in frames:
        frame[:12, :16] = 255  # a white block in the stored picture's top-left corner
    path = write_clip(tmp_path / "portrait.mp4", frames, rotation=90)
    info = video.probe(path)
    upright = next(clips.read_frames(path, (info.width, info.height), info.rotation, Fraction(10)))
    assert (info.width, info.height, info.rotation, upright.shape) == (48, 64, 90, (64, 48, 3))
    assert upright[-6:, :6].mean() > 200 and upright[:6, :6].mean() < 50  # turned left: now bottom-left


def test_variable_frame_rate_is_resampled_to_the_average_rate(tmp_path):
    """Frames at irregular times come out one per tick of the average rate: a gap repeats a frame."""
    times = [0, 0.1, 0.2, 0.5, 0.6, 0.65, 0.7, 0.8]
    path = write_clip(tmp_path / "vfr.mp4", moving_frames(64, 48, 8), times=times)
    info = video.probe(path)
    frames = list(clips.read_frames(path, (64, 48), 0, Fraction(info.fps).limit_denominator(1001)))
    assert info.fps == pytest.approx(8 / 0.95) and len(frames) == info.frames == 8
    assert np.array_equal(frames[2], frames[3])


@pytest.mark.model
def test_output_is_h264_yuv420p_at_the_input_rate_with_its_sound(clip, painting, tmp_path):
    """The MP4 holds H.264 4:2:0 at 10 fps, every frame, and the AAC sound copied as it was."""
    destination, result = stylized(clip, painting, tmp_path)
    with av.open(str(destination)) as output, av.open(str(clip)) as source:
        picture, sound = output.streams.video[0], output.streams.audio[0]
        assert (picture.codec_context.name, picture.codec_context.pix_fmt, picture.average_rate) == (
            "h264", "yuv420p", 10)
        assert (sound.codec_context.name, sound.frames) == ("aac", source.streams.audio[0].frames)
    assert len(decoded_frames(destination)) == result.frames == 8
    assert (result.width, result.height, result.poster.size) == (64, 48, (64, 48))
    assert set(result.seconds) >= {"decode", "flow", "stylize", "encode"}


@pytest.mark.model
def test_sound_mp4_cannot_hold_is_reencoded_to_aac(painting, tmp_path):
    """An Opus track (WebM/MKV) comes out as AAC of the same length."""
    source = write_clip(tmp_path / "clip.mkv", moving_frames(64, 48, 8), audio="libopus")
    destination, _ = stylized(source, painting, tmp_path)
    with av.open(str(destination)) as output:
        sound = output.streams.audio[0]
        assert sound.codec_context.name == "aac"
        assert float(sound.duration * sound.time_base) == pytest.approx(0.8, abs=0.05)


@pytest.mark.model
@pytest.mark.parametrize("audio", ["aac", "libopus"])
def test_sound_before_the_first_frame_is_left_out(painting, tmp_path, audio):
    """Pictures from 0.5 s over sound from 0 s: the output's sound starts with its first frame (copied or not)."""
    times = [0.5 + index / 10 for index in range(8)]
    source = write_clip(tmp_path / "late.mkv", moving_frames(64, 48, 8), audio=audio, times=times)
    destination, _ = stylized(source, painting, tmp_path)
    with av.open(str(destination)) as output:
        sound = output.streams.audio[0]
        assert float(sound.duration * sound.time_base) == pytest.approx(0.8, abs=0.05)


@pytest.mark.model
def test_odd_sizes_come_out_even(painting, tmp_path):
    """A 65x49 clip (lossless FFV1 in MKV) becomes a 64x48 H.264 video."""
    source = write_clip(tmp_path / "odd.mkv", moving_frames(65, 49, 3), codec="ffv1", pixel_format="yuv444p")
    destination, result = stylized(source, painting, tmp_path)
    assert (result.width, result.height) == (64, 48)
    assert decoded_frames(destination)[0].shape == (48, 64, 3)


@pytest.mark.model
def test_an_ntsc_rate_stays_exact(painting, tmp_path):
    """A 29.97 fps clip (30000/1001) comes out at exactly that rate."""
    source = write_clip(tmp_path / "ntsc.mp4", moving_frames(64, 48, 3), fps=Fraction(30000, 1001))
    destination, result = stylized(source, painting, tmp_path)
    with av.open(str(destination)) as output:
        assert output.streams.video[0].average_rate == Fraction(30000, 1001)
    assert result.fps == pytest.approx(29.97, abs=0.001)


@pytest.mark.model
def test_consistency_lowers_the_warping_error(painting, tmp_path):
    """On a clip with known motion, consistency 0.7 disagrees less along the motion than independent frames."""
    frames = list(moving_frames(96, 72, 8, shift=(3, 1)))
    source = write_clip(tmp_path / "pan.mp4", frames)
    inputs = decoded_frames(source)
    independent = decoded_frames(stylized(source, painting, tmp_path, "independent.mp4", consistency=0)[0])
    steady = decoded_frames(stylized(source, painting, tmp_path, "steady.mp4", consistency=0.7)[0])
    assert warping_error(inputs, steady) < 0.8 * warping_error(inputs, independent)


@pytest.mark.model
def test_a_scene_cut_starts_the_painting_afresh(painting, tmp_path):
    """Where the shot changes to another scene, the frame is not blended with the one before."""
    frames = list(moving_frames(96, 72, 4, seed=0)) + list(moving_frames(96, 72, 4, seed=7))
    source = write_clip(tmp_path / "cut.mp4", frames)
    _, result = stylized(source, painting, tmp_path)
    assert result.scene_cuts == 1


class StopAfter(Progress):
    """Cancels the clip once ``frames`` frames are finished."""

    def __init__(self, frames):
        self.frames, self.seen = frames, 0

    def report(self, fraction, preview=None):
        self.seen += 1
        assert preview().shape == (1, 48, 64, 3)
        if self.seen == self.frames:
            raise Cancelled("stopped")


@pytest.mark.model
def test_a_stopped_clip_resumes_and_equals_an_uninterrupted_run(clip, painting, tmp_path):
    """Stopped after 3 frames, the second call reuses them and its frames equal a run never stopped."""
    whole, _ = stylized(clip, painting, tmp_path, "whole.mp4")
    destination = tmp_path / "resumed.mp4"
    arguments = {"styles": [(painting, 1.0)], "options": Options(), "work_dir": tmp_path / "resumed.work"}
    with pytest.raises(Cancelled):
        video.stylize_clip(clip, destination, progress=StopAfter(3), **arguments)
    assert not destination.exists() and not list(tmp_path.glob(".resumed.mp4*"))
    result = video.stylize_clip(clip, destination, **arguments)
    assert result.resumed_frames == 3
    assert all(np.array_equal(a, b) for a, b in zip(decoded_frames(whole), decoded_frames(destination), strict=True))


@pytest.mark.model
def test_other_settings_do_not_reuse_kept_frames(clip, painting, tmp_path):
    """A work folder kept for one consistency is emptied, not reused, for another."""
    work = tmp_path / "work"
    video.stylize_clip(clip, tmp_path / "a.mp4", [(painting, 1.0)], Options(), consistency=0.5, work_dir=work)
    result = video.stylize_clip(clip, tmp_path / "b.mp4", [(painting, 1.0)], Options(), consistency=0.6,
                                work_dir=work)
    assert result.resumed_frames == 0


@pytest.mark.model
@pytest.mark.parametrize("method", ["magenta", "adain"])
def test_the_style_is_encoded_once_per_clip(clip, painting, tmp_path, monkeypatch, method):
    """Magenta's style vector and AdaIN's statistics are computed once for all eight frames."""
    model = engines.get(method)
    encodings = []
    encode = model.style_vector
    monkeypatch.setattr(model, "style_vector", lambda style: encodings.append(style) or encode(style))
    result = video.stylize_clip(clip, tmp_path / "out.mp4", [(painting, 1.0)], Options(method=method),
                                consistency=0, work_dir=tmp_path / "work")
    assert (result.frames, len(encodings)) == (8, 1)


def test_gatys_refuses_clips_with_its_reason(clip, painting, tmp_path):
    """Gatys declares it cannot run per frame; stylize_clip says why, without loading it."""
    with pytest.raises(UnsupportedByEngine, match="hours") as caught:
        video.stylize_clip(clip, tmp_path / "o.mp4", [(painting, 1.0)], Options(method="gatys"),
                           work_dir=tmp_path / "work")
    assert caught.value.control == "video" and not (tmp_path / "o.mp4").exists()


def test_long_clips_go_to_the_slow_queue(clip):
    """queue_for: a short Magenta clip runs in the fast queue, one estimated past half its limit in the slow one."""
    magenta = engines.method_class("magenta")
    info = video.probe(clip)
    long_clip = video.ClipInfo(1280, 720, 30.0, 900, 30.0, 0, False, "h264")
    assert (video.queue_for(magenta, info), video.queue_for(magenta, long_clip), video.queue_for(Gatys, info)) == (
        "default", "slow", "slow")
    assert video.estimate_seconds(magenta, long_clip) > 900 * magenta.estimate_seconds(1280, 720)


@pytest.mark.model
def test_regions_paint_every_frame_and_keep_the_photo_where_asked(clip, painting, tmp_path):
    """With the left half kept and the right painted, every frame's left half stays the clip's own."""
    from tfapp import regions

    mask = np.zeros((48, 64), np.uint8)
    mask[:, 32:] = 1
    painted = regions.Regions(mask, (None, 0))
    destination, result = stylized(clip, painting, tmp_path, consistency=0, regions=painted)
    assert result.frames == 8
    for source, output in zip(decoded_frames(clip), decoded_frames(destination), strict=True):
        difference = np.abs(source.astype(np.float32) - output.astype(np.float32)).mean(axis=(0, 2))
        assert difference[2:28].mean() < 6 < 30 < difference[36:62].mean()
