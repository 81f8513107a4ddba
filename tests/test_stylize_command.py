"""The `manage.py stylize` command for scripting and batch use."""
import os
import subprocess
import sys

import numpy as np
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from .clips import decoded_frames, moving_frames, write_clip
from .conftest import CONTENT_DIR, ROOT, STYLE_DIR, make_image


def test_writes_the_stylized_image(tmp_path):
    """stylize CONTENT STYLE -o OUT writes a PNG the size of the content."""
    output = tmp_path / "out.png"
    call_command("stylize", str(CONTENT_DIR / "chelsea.png"), str(STYLE_DIR / "starry_night.jpg"), "-o", str(output))
    with Image.open(output) as result:
        assert (result.format, result.size) == ("PNG", (451, 300))


def test_max_size_limits_the_long_side(tmp_path):
    """--max-size sets the long side of the result."""
    output = tmp_path / "small.jpg"
    call_command("stylize", str(CONTENT_DIR / "chelsea.png"), str(STYLE_DIR / "starry_night.jpg"), "-o",
                 str(output), "--max-size", "200", "--engine", "lite")
    with Image.open(output) as result:
        assert (result.format, result.size) == ("JPEG", (200, 133))


def test_reports_what_it_wrote(tmp_path, capsys):
    """The command prints the output path and size."""
    output = tmp_path / "out.png"
    call_command("stylize", str(CONTENT_DIR / "coffee.png"), str(STYLE_DIR / "the_scream.jpg"), "-o", str(output))
    assert f"Wrote {output} (512x341" in capsys.readouterr().out


def test_unreadable_input_is_a_command_error(tmp_path):
    """A content file that is not an image stops with a readable error, not a traceback."""
    bogus = tmp_path / "bogus.png"
    bogus.write_text("nope")
    with pytest.raises(CommandError, match="could not be read as an image"):
        call_command("stylize", str(bogus), str(STYLE_DIR / "the_scream.jpg"), "-o", str(tmp_path / "o.png"))


def test_unknown_output_extension_is_a_command_error(tmp_path):
    """An output name with no known image extension is refused clearly."""
    style = tmp_path / "style.png"
    make_image().save(style)
    with pytest.raises(CommandError, match="Could not write"):
        call_command("stylize", str(style), str(style), "-o", str(tmp_path / "out.unknown"))


def test_unavailable_engine_is_a_command_error(tmp_path, settings, fresh_engine):
    """Choosing an engine whose model is missing explains what to set."""
    settings.NST_LITE_MODEL_DIR = tmp_path / "none"
    style = tmp_path / "style.png"
    make_image().save(style)
    with pytest.raises(CommandError, match="NST_LITE_MODEL_DIR"):
        call_command("stylize", str(style), str(style), "-o", str(tmp_path / "o.png"), "--engine", "lite")


def test_sizes_must_be_positive(tmp_path):
    """--max-size 0 is refused."""
    with pytest.raises(CommandError, match="positive"):
        call_command("stylize", "a.png", "b.png", "-o", str(tmp_path / "o.png"), "--max-size", "0")


def test_a_clip_becomes_an_mp4(tmp_path, capsys):
    """stylize CLIP STYLE -o OUT.mp4 writes every frame as H.264, with --consistency accepted."""
    clip = write_clip(tmp_path / "clip.mp4", moving_frames(64, 48, 6), audio="aac")
    output = tmp_path / "out.mp4"
    call_command("stylize", str(clip), str(STYLE_DIR / "starry_night.jpg"), "-o", str(output), "--consistency", "0.5")
    assert len(decoded_frames(output)) == 6
    assert f"Wrote {output} (64x48, 6 frames at 10 fps" in capsys.readouterr().out


def test_a_clip_must_be_written_as_mp4(tmp_path):
    """A clip with a picture file as output is refused before any work."""
    clip = write_clip(tmp_path / "clip.mp4", moving_frames(64, 48, 2))
    with pytest.raises(CommandError, match=r"name the output \.mp4"):
        call_command("stylize", str(clip), str(STYLE_DIR / "starry_night.jpg"), "-o", str(tmp_path / "out.png"))


def test_a_folder_grid_writes_every_content_in_every_style_and_lists_what_failed(tmp_path, capsys):
    """--style: each photo and clip under a folder in each style; an unreadable file is listed and fails the run."""
    folder = tmp_path / "in"
    (folder / "trip").mkdir(parents=True)
    make_image().save(folder / "cat.png")
    write_clip(folder / "trip" / "pan.mp4", moving_frames(64, 48, 3))
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("not a content")
    styles = [str(STYLE_DIR / "starry_night.jpg"), str(STYLE_DIR / "the_scream.jpg")]
    with pytest.raises(CommandError, match="2 of 6 could not be stylized"):
        call_command("stylize", str(folder), "--style", *styles, "-o", str(tmp_path / "out"))
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == [
        "cat__starry_night.png", "cat__the_scream.png", "trip_pan__starry_night.mp4", "trip_pan__the_scream.mp4"]
    assert capsys.readouterr().err.count(f"Skipped {folder / 'broken.jpg'}: ") == 2


def test_the_command_exits_non_zero_when_a_content_failed(tmp_path, settings):
    """Run as a program, a grid with an unreadable file writes the rest, names the file, and exits with status 1."""
    folder = tmp_path / "in"
    folder.mkdir()
    make_image().save(folder / "cat.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    environment = dict(os.environ, DJANGO_SETTINGS_MODULE="nst_site.settings.development", NST_ENGINE="lite",
                       NST_LITE_MODEL_DIR=str(settings.NST_LITE_MODEL_DIR), NST_DB_PATH=str(tmp_path / "db.sqlite3"),
                       NST_MEDIA_ROOT=str(tmp_path / "media"))
    command = [sys.executable, "manage.py", "stylize", str(folder), "--style", str(STYLE_DIR / "the_scream.jpg"),
               "-o", str(tmp_path / "out")]
    run = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 1
    assert f"Skipped {folder / 'broken.jpg'}: The file could not be read as an image" in run.stderr
    assert [path.name for path in (tmp_path / "out").iterdir()] == ["cat__the_scream.png"]


def test_a_clip_takes_regions_too(tmp_path):
    """--mask on a clip keeps the photo in its region 0 ('keep') on every frame and paints region 1."""
    clip = write_clip(tmp_path / "clip.mp4", moving_frames(64, 48, 3))
    labels = np.zeros((48, 64), np.uint8)
    labels[:, 32:] = 1
    Image.fromarray(labels, "L").save(tmp_path / "mask.png")
    output = tmp_path / "out.mp4"
    call_command("stylize", str(clip), str(STYLE_DIR / "starry_night.jpg"), "-o", str(output),
                 "--mask", str(tmp_path / "mask.png"), "--region-styles", "keep,1", "--consistency", "0")
    for source, painted in zip(decoded_frames(clip), decoded_frames(output), strict=True):
        difference = np.abs(source.astype(np.float32) - painted.astype(np.float32)).mean(axis=(0, 2))
        assert difference[2:28].mean() < 6 < 30 < difference[36:62].mean()


def test_a_mask_is_for_one_content_not_a_grid(tmp_path):
    """--mask with --style (every content in every style) is refused: a mask is painted on one picture."""
    with pytest.raises(CommandError, match="one photo or clip"):
        call_command("stylize", "a.png", "--style", "b.png", "-o", str(tmp_path), "--mask", "m.png")
