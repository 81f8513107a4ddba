"""``manage.py download_models`` for AdaIN's graphs and the VGG-19 npz, served from ../shared on 127.0.0.1."""
import io
import shutil

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from .test_download_models import SHARED_DIR, FolderServer, sha256

ADAIN_SOURCE = SHARED_DIR / "models" / "adain-vgg19"
VGG_SOURCE = SHARED_DIR / "models" / "vgg19-normalised"
ADAIN_FILES = ["decoder_opt_quantized.pb", "encoder_opt_quantized.pb"]
VGG_FILE = "vgg19_normalised_relu4_1.npz"

pytestmark = pytest.mark.skipif(not ADAIN_SOURCE.is_dir(), reason=f"{ADAIN_SOURCE} is not available")


def published_digests(folder):
    """The digests ../shared/SHA256SUMS lists for the files under ``models/<folder>/``."""
    digests = {}
    for line in (SHARED_DIR / "SHA256SUMS").read_text().splitlines():
        digest, path = line.split(maxsplit=1)
        if path.startswith(f"models/{folder}/"):
            digests[path.rsplit("/", 1)[1]] = digest
    return digests


def download(engine, *options):
    output = io.StringIO()
    call_command("download_models", "--engine", engine, *options, stdout=output)
    return output.getvalue()


def damaged_copy(source, destination, name):
    """A copy of the folder ``source`` in which one byte of ``name`` is flipped."""
    shutil.copytree(source, destination)
    damaged = destination / name
    damaged.chmod(0o644)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    return destination


@pytest.fixture
def adain_dir(settings, tmp_path):
    settings.NST_ADAIN_MODEL_DIR = tmp_path / "adain"
    return settings.NST_ADAIN_MODEL_DIR


@pytest.fixture
def vgg_path(settings, tmp_path):
    settings.NST_VGG_WEIGHTS = tmp_path / "vgg" / VGG_FILE
    return settings.NST_VGG_WEIGHTS


@pytest.fixture
def adain_server(settings):
    with FolderServer(ADAIN_SOURCE) as server:
        settings.NST_ADAIN_BASE_URL = server.url
        yield server


def test_adain_graphs_are_downloaded_from_the_setting_and_verified(adain_dir, adain_server):
    """Both graphs come from NST_ADAIN_BASE_URL into NST_ADAIN_MODEL_DIR with their published SHA-256."""
    download("adain")
    assert sorted(path.name for path in adain_dir.iterdir()) == ADAIN_FILES
    assert {name: sha256(adain_dir / name) for name in ADAIN_FILES} == published_digests("adain-vgg19")
    assert sorted(adain_server.requests) == [f"/{name}" for name in ADAIN_FILES]


def test_corrupted_adain_download_leaves_nothing_behind(settings, adain_dir, tmp_path):
    """A graph with a flipped byte is refused with both digests named; no file or partial file of it remains."""
    mirror = damaged_copy(ADAIN_SOURCE, tmp_path / "mirror", "decoder_opt_quantized.pb")
    with FolderServer(mirror) as server, pytest.raises(CommandError) as raised:
        settings.NST_ADAIN_BASE_URL = server.url
        download("adain")
    assert published_digests("adain-vgg19")["decoder_opt_quantized.pb"] in str(raised.value)
    assert sha256(mirror / "decoder_opt_quantized.pb") in str(raised.value)
    assert [path.name for path in adain_dir.iterdir()] == ["encoder_opt_quantized.pb"]


def test_adain_source_folder_is_copied_with_verification(adain_dir):
    """--source installs the graphs from a local folder, checked like a download."""
    download("adain", "--source", str(ADAIN_SOURCE))
    assert {name: sha256(adain_dir / name) for name in ADAIN_FILES} == published_digests("adain-vgg19")


def test_vgg_source_is_copied_with_verification(vgg_path):
    """--engine vgg --source copies the npz, checked against its SHA-256."""
    download("vgg", "--source", str(VGG_SOURCE))
    assert sha256(vgg_path) == published_digests("vgg19-normalised")[VGG_FILE]


def test_corrupted_vgg_source_is_refused(vgg_path, tmp_path):
    """A damaged npz in --source is refused and no copy of it is left."""
    mirror = damaged_copy(VGG_SOURCE, tmp_path / "mirror", VGG_FILE)
    with pytest.raises(CommandError, match=VGG_FILE):
        download("vgg", "--source", str(mirror))
    assert list(vgg_path.parent.iterdir()) == []


def test_vgg_is_derived_from_the_downloaded_encoder(adain_dir, vgg_path, adain_server):
    """Without --source, the npz is dequantized from the downloaded encoder graph and equals the shared npz."""
    download("vgg")
    assert sorted(path.name for path in adain_dir.iterdir()) == ADAIN_FILES
    with np.load(vgg_path) as derived, np.load(VGG_SOURCE / VGG_FILE) as shared:
        assert sorted(derived.files) == sorted(shared.files)
        for name in shared.files:
            np.testing.assert_allclose(derived[name], shared[name], rtol=1e-6, atol=1e-7)


def test_vgg_is_not_derived_from_a_corrupted_encoder(settings, adain_dir, vgg_path, tmp_path):
    """When the encoder fails verification, no npz is written."""
    mirror = damaged_copy(ADAIN_SOURCE, tmp_path / "mirror", "encoder_opt_quantized.pb")
    with FolderServer(mirror) as server, pytest.raises(CommandError, match="encoder_opt_quantized.pb"):
        settings.NST_ADAIN_BASE_URL = server.url
        download("vgg")
    assert not vgg_path.exists()


def test_lite_download_does_not_fetch_adain(settings, adain_dir, adain_server, tmp_path):
    """`--engine lite` leaves AdaIN alone, as before."""
    settings.NST_LITE_MODEL_DIR = tmp_path / "lite"
    download("lite", "--source", str(SHARED_DIR / "models" / "magenta-lite"))
    assert adain_server.requests == [] and not adain_dir.exists()
