"""``manage.py download_models`` for the TFLite files, served from ../shared on 127.0.0.1."""
import functools
import hashlib
import http.server
import io
import os
import shutil
import threading
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError

SHARED_DIR = Path(os.environ.get("NST_SHARED_DIR", Path(django_settings.BASE_DIR).parent / "shared"))
LITE_SOURCE = SHARED_DIR / "models" / "magenta-lite"
LITE_FILES = [
    "style_predict_quantized_256.tflite",
    "style_transfer_f16_384.tflite",
    "style_transfer_quantized_384.tflite",
    "style_transfer_quantized_dynamic.tflite",
]
CORRUPTED = "style_transfer_f16_384.tflite"

pytestmark = pytest.mark.skipif(not LITE_SOURCE.is_dir(), reason=f"{LITE_SOURCE} is not available")


def published_digests():
    """The digests ../shared/SHA256SUMS lists for the TFLite files."""
    digests = {}
    for line in (SHARED_DIR / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        if path.startswith("models/magenta-lite/"):
            digests[Path(path).name] = digest
    return digests


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


class FolderServer:
    """Serves ``folder`` over HTTP on 127.0.0.1 and records each requested path."""

    def __init__(self, folder):
        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args):
                pass

        handler = functools.partial(Handler, directory=str(folder))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"

    def __enter__(self):
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc_info):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def lite_server():
    with FolderServer(LITE_SOURCE) as server:
        yield server


@pytest.fixture
def corrupt_mirror(tmp_path):
    """A copy of the TFLite folder in which one byte of CORRUPTED is flipped."""
    mirror = tmp_path / "mirror"
    shutil.copytree(LITE_SOURCE, mirror)
    damaged = mirror / CORRUPTED
    damaged.chmod(0o644)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    return mirror


@pytest.fixture
def lite_dir(settings, tmp_path):
    """An empty NST_LITE_MODEL_DIR for the command to fill."""
    settings.NST_LITE_MODEL_DIR = tmp_path / "lite"
    return settings.NST_LITE_MODEL_DIR


def download(*options):
    output = io.StringIO()
    call_command("download_models", "--engine", "lite", *options, stdout=output)
    return output.getvalue()


def test_lite_models_are_downloaded_and_match_the_published_digests(lite_dir, lite_server):
    """All four TFLite files land in NST_LITE_MODEL_DIR, each with its published SHA-256."""
    download("--base-url", lite_server.url)
    assert sorted(path.name for path in lite_dir.iterdir()) == LITE_FILES
    assert {name: sha256(lite_dir / name) for name in LITE_FILES} == published_digests()


def test_base_url_defaults_to_the_setting(settings, lite_dir, lite_server):
    """Without --base-url the files come from NST_MODEL_BASE_URL."""
    settings.NST_MODEL_BASE_URL = lite_server.url
    download()
    assert len(lite_server.requests) == 4


def test_second_run_downloads_nothing(lite_dir, lite_server):
    """Files already present with the right digest are not fetched again."""
    download("--base-url", lite_server.url)
    output = download("--base-url", lite_server.url)
    assert len(lite_server.requests) == 4
    assert output.count("already present") == 4


def test_damaged_file_already_present_is_replaced(lite_dir, lite_server):
    """A file in place whose digest is wrong is downloaded again and replaced."""
    lite_dir.mkdir()
    (lite_dir / CORRUPTED).write_bytes(b"truncated")
    download("--base-url", lite_server.url)
    assert sha256(lite_dir / CORRUPTED) == published_digests()[CORRUPTED]


def test_corrupted_download_is_refused_and_leaves_no_file(lite_dir, corrupt_mirror):
    """A download with a flipped byte raises CommandError naming the file and digests; nothing of it is kept."""
    with FolderServer(corrupt_mirror) as server, pytest.raises(CommandError) as raised:
        download("--base-url", server.url)
    message = str(raised.value)
    assert CORRUPTED in message
    assert published_digests()[CORRUPTED] in message and sha256(corrupt_mirror / CORRUPTED) in message
    assert [path.name for path in lite_dir.iterdir()] == ["style_predict_quantized_256.tflite"]


def test_missing_file_on_the_server_is_a_command_error(lite_dir, tmp_path):
    """An HTTP 404 for one file ends the command with a CommandError naming its URL."""
    (tmp_path / "empty").mkdir()
    with FolderServer(tmp_path / "empty") as server, pytest.raises(CommandError, match="404") as raised:
        download("--base-url", server.url)
    assert f"{server.url}style_predict_quantized_256.tflite" in str(raised.value)
    assert list(lite_dir.iterdir()) == []


def test_source_folder_is_copied_with_verification(lite_dir):
    """--source copies the files from a local mirror folder, verified like a download."""
    download("--source", str(LITE_SOURCE))
    assert {name: sha256(lite_dir / name) for name in LITE_FILES} == published_digests()


def test_corrupted_source_file_is_refused(lite_dir, corrupt_mirror):
    """--source refuses a file whose digest is wrong and leaves no copy of it."""
    with pytest.raises(CommandError, match=CORRUPTED):
        download("--source", str(corrupt_mirror))
    assert not (lite_dir / CORRUPTED).exists()
    assert not [path for path in lite_dir.iterdir() if path.name.startswith(".")]


def test_missing_hub_folder_is_a_command_error(settings, tmp_path, monkeypatch):
    """`--engine hub` with a handle naming a missing folder ends with a CommandError, not a traceback."""
    monkeypatch.delenv("TFHUB_CACHE_DIR", raising=False)
    settings.NST_HUB_HANDLE = str(tmp_path / "no-such-model")
    with pytest.raises(CommandError, match="no-such-model"):
        call_command("download_models", "--engine", "hub", stdout=io.StringIO())


def test_missing_fetches_only_what_the_unavailable_methods_need(settings, lite_dir, lite_server, capsys):
    """`download_models --missing`: the lite files come from the server, while AdaIN and Gatys, present, are untouched."""
    settings.NST_ENGINE = "lite"
    settings.NST_MODEL_BASE_URL = lite_server.url
    call_command("download_models", "--missing")
    assert sorted(path.name for path in lite_dir.iterdir()) == sorted(LITE_FILES)
    assert all(request.lstrip("/") in LITE_FILES for request in lite_server.requests)
    output = capsys.readouterr().out
    assert "AdaIN: ready" in output and "Gatys (slow, finest): ready" in output


def test_missing_offline_says_what_could_not_be_fetched_and_exits_normally(settings, lite_dir, tmp_path, capsys):
    """With nothing reachable, `--missing` (what ./run calls) writes no file, names the method and returns."""
    settings.NST_ENGINE = "lite"
    settings.NST_MODEL_BASE_URL = "http://127.0.0.1:9/"
    settings.NST_ADAIN_MODEL_DIR = tmp_path / "no-adain"
    settings.NST_ADAIN_BASE_URL = "http://127.0.0.1:9/"
    settings.NST_VGG_WEIGHTS = tmp_path / "no-vgg" / "weights.npz"
    call_command("download_models", "--missing")
    assert list(lite_dir.iterdir()) == []
    errors = capsys.readouterr().err
    assert "Fast (Magenta): not fetched" in errors and "AdaIN: not fetched" in errors
    assert "Gatys (slow, finest): not fetched (its weights come from AdaIN's graphs" in errors
