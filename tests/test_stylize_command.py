"""The `manage.py stylize` command for scripting and batch use."""
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from .conftest import CONTENT_DIR, STYLE_DIR, make_image


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
