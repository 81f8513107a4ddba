"""The TF-Hub engine, run on a small SavedModel with the Magenta model's call signature.

The stand-in behaves like the real network where shapes are concerned: its mirror
padding fails on content sides under 5 pixels, it answers with sides rounded up to
a multiple of 4, and it refuses style images under 43 pixels. Its pixels are
``0.5 * content + 0.5 * mean(style)``, so the engine's output can be checked exactly.
The "remote" models are served by an HTTP server on 127.0.0.1.
"""
import hashlib
import http.server
import io
import socket
import tarfile
import threading
import urllib.parse

import numpy as np
import pytest
import tensorflow as tf
from django.core.management import call_command
from django.core.management.base import CommandError

from tfapp import engines
from tfapp.checks import check_model
from tfapp.engines.hub import HubEngine
from tfapp.exceptions import ModelUnavailable


class FakeMagenta(tf.Module):
    """Magenta's signature and shape behaviour, with a blend toward the style's mean colour."""

    @tf.function(input_signature=[
        tf.TensorSpec([None, None, None, 3], tf.float32),
        tf.TensorSpec([None, None, None, 3], tf.float32),
    ])
    def __call__(self, content, style):
        tf.debugging.assert_greater_equal(tf.reduce_min(tf.shape(style)[1:3]), 43)
        mirrored = tf.pad(content, [[0, 0], [4, 4], [4, 4], [0, 0]], mode="REFLECT")
        content = mirrored[:, 4:-4, 4:-4]
        blended = 0.5 * content + 0.5 * tf.reduce_mean(style, axis=[1, 2], keepdims=True)
        network_size = 4 * ((tf.shape(content)[1:3] + 3) // 4)
        return [tf.image.resize(blended, network_size, method="nearest")]


@pytest.fixture(scope="session")
def saved_model_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fake-magenta")
    tf.saved_model.save(FakeMagenta(), str(folder))
    return folder


@pytest.fixture(scope="session")
def model_tarball(saved_model_dir):
    """The SavedModel folder's contents as a .tar.gz, the way TF-Hub serves compressed models."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(saved_model_dir, arcname=".")
    return buffer.getvalue()


class ModelServer:
    """Answers GET requests from ``routes`` (path -> (status, body)) and records each request."""

    def __init__(self):
        self.routes = {}
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests.append(self.path)
                status, body = server.routes.get(urllib.parse.urlsplit(self.path).path, (404, b""))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)

    def url(self, path):
        return f"http://127.0.0.1:{self.httpd.server_port}{path}"


@pytest.fixture
def model_server(model_tarball):
    server = ModelServer()
    server.routes["/magenta/2.tar.gz"] = (200, model_tarball)
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    yield server
    server.httpd.shutdown()
    server.httpd.server_close()


@pytest.fixture
def hub_settings(settings, tmp_path, monkeypatch):
    """NST_ENGINE=hub with a fresh model folder; the engine cache is forgotten before and after."""
    monkeypatch.delenv("TFHUB_CACHE_DIR", raising=False)
    settings.NST_ENGINE = "hub"
    settings.NST_MODEL_DIR = tmp_path / "models"
    engines.reset()
    yield settings
    engines.reset()


def random_image(height, width, seed=0):
    return np.random.default_rng(seed).random((1, height, width, 3), dtype=np.float32)


def flat_style(colour, side=64):
    return np.broadcast_to(np.asarray(colour, np.float32), (1, side, side, 3)).copy()


def expected_blend(content, colour):
    return 0.5 * content + 0.5 * np.asarray(colour, np.float32)


def cache_folder(settings, handle):
    return settings.NST_MODEL_DIR / "tfhub" / hashlib.sha1(handle.encode()).hexdigest()


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_local_savedmodel_stylizes_to_exactly_the_content_size(hub_settings, saved_model_dir):
    """A local SavedModel folder as NST_HUB_HANDLE gives a HubEngine whose output matches the content."""
    hub_settings.NST_HUB_HANDLE = str(saved_model_dir)
    engine = engines.get()
    content = random_image(7, 10)
    output = engine.stylize(content, [(flat_style([0.2, 0.4, 0.6]), 1.0)])
    assert isinstance(engine, HubEngine)
    assert output.shape == (1, 7, 10, 3) and output.dtype == np.float32
    np.testing.assert_allclose(output, expected_blend(content, [0.2, 0.4, 0.6]), atol=1e-4)


@pytest.mark.parametrize("height, width", [(1, 1), (5, 3), (2, 9), (13, 4)])
def test_tiny_and_odd_content_sizes_come_back_unchanged_in_size(hub_settings, saved_model_dir, height, width):
    """Content smaller than the network's minimum, or not a multiple of 4, is padded and cropped back."""
    hub_settings.NST_HUB_HANDLE = str(saved_model_dir)
    content = random_image(height, width, seed=height * width)
    output = engines.get().stylize(content, [(flat_style([1.0, 0.0, 0.0]), 1.0)])
    np.testing.assert_allclose(output, expected_blend(content, [1.0, 0.0, 0.0]), atol=1e-4)


def test_style_smaller_than_inception_needs_is_padded(hub_settings, saved_model_dir):
    """An 8x8 style image still works: it is mirrored up to the style network's minimum size."""
    hub_settings.NST_HUB_HANDLE = str(saved_model_dir)
    content = random_image(16, 16)
    output = engines.get().stylize(content, [(flat_style([0.0, 1.0, 0.0], side=8), 1.0)])
    np.testing.assert_allclose(output, expected_blend(content, [0.0, 1.0, 0.0]), atol=1e-4)


def test_output_is_clipped_to_the_unit_range(hub_settings, saved_model_dir):
    """Values the network pushes past 1 are clipped."""
    hub_settings.NST_HUB_HANDLE = str(saved_model_dir)
    output = engines.get().stylize(random_image(8, 8), [(flat_style([3.0, 3.0, 3.0]), 1.0)])
    assert output.max() == 1.0


def test_compressed_url_is_downloaded_once_into_the_project_cache(hub_settings, model_server):
    """A .tar.gz URL is fetched into NST_MODEL_DIR/tfhub, and loading again does not fetch it again."""
    handle = model_server.url("/magenta/2.tar.gz")
    hub_settings.NST_HUB_HANDLE = handle
    engines.get()
    engines.reset()
    engine = engines.get()
    assert len(model_server.requests) == 1
    assert "tf-hub-format=compressed" in model_server.requests[0]
    assert (cache_folder(hub_settings, handle) / "saved_model.pb").is_file()
    assert engine.stylize(random_image(6, 6), [(flat_style([0.5] * 3), 1.0)]).shape == (1, 6, 6, 3)


def test_system_check_stops_warning_once_the_url_is_cached(hub_settings, model_server):
    """The not-downloaded-yet warning (tfapp.W004) disappears after the engine has downloaded the model."""
    hub_settings.NST_HUB_HANDLE = model_server.url("/magenta/2.tar.gz")
    assert [message.id for message in check_model(None)] == ["tfapp.W004"]
    engines.get()
    assert check_model(None) == []


def test_forbidden_url_makes_the_engine_unavailable_with_a_reason(hub_settings, model_server):
    """An HTTP 403 gives ModelUnavailable naming the handle and what to do, remembered by the registry."""
    model_server.routes["/forbidden.tar.gz"] = (403, b"Forbidden")
    handle = model_server.url("/forbidden.tar.gz")
    hub_settings.NST_HUB_HANDLE = handle
    with pytest.raises(ModelUnavailable) as raised:
        engines.get()
    message = str(raised.value)
    assert handle in message and "403" in message
    assert "NST_ENGINE=lite" in message and "download_models" in message
    with pytest.raises(ModelUnavailable):
        engines.get()
    assert engines.unavailable_reason() == message
    assert len(model_server.requests) == 1


def test_corrupt_archive_makes_the_engine_unavailable(hub_settings, model_server):
    """A download that is not a tarball gives ModelUnavailable and leaves nothing in the cache."""
    model_server.routes["/corrupt.tar.gz"] = (200, b"this is not a gzip file" * 100)
    handle = model_server.url("/corrupt.tar.gz")
    hub_settings.NST_HUB_HANDLE = handle
    with pytest.raises(ModelUnavailable, match="could not be loaded"):
        engines.get()
    assert not cache_folder(hub_settings, handle).exists()


def test_unreachable_host_makes_the_engine_unavailable(hub_settings):
    """A URL nothing listens on gives ModelUnavailable rather than an unhandled network error."""
    hub_settings.NST_HUB_HANDLE = f"http://127.0.0.1:{closed_port()}/magenta.tar.gz"
    with pytest.raises(ModelUnavailable, match="could not be loaded"):
        engines.get()


def test_pages_say_how_to_fetch_a_model_not_downloaded_yet_and_ask_no_server(hub_settings, model_server):
    """A web process only looks in the cache: a URL not fetched yet is unavailable with the command that fetches it,
    and no request reaches the model's server; once a worker has fetched it, pages offer it."""
    hub_settings.NST_HUB_HANDLE = model_server.url("/magenta/2.tar.gz")
    reason = engines.unavailable_reason()
    assert "has not been downloaded" in reason and "download_models --engine hub" in reason
    assert model_server.requests == []
    engines.get()
    assert engines.unavailable_reason() is None


def test_missing_local_folder_makes_the_engine_unavailable(hub_settings, tmp_path):
    """A handle naming a folder that does not exist gives ModelUnavailable naming that folder."""
    missing = tmp_path / "no-such-model"
    hub_settings.NST_HUB_HANDLE = str(missing)
    with pytest.raises(ModelUnavailable, match="NST_HUB_HANDLE"):
        engines.get()
    assert str(missing) in engines.unavailable_reason()


def test_download_models_fills_the_hub_cache(hub_settings, model_server):
    """`download_models --engine hub` downloads the handle into the cache and says where."""
    handle = model_server.url("/magenta/2.tar.gz")
    hub_settings.NST_HUB_HANDLE = handle
    output = io.StringIO()
    call_command("download_models", "--engine", "hub", stdout=output)
    assert str(cache_folder(hub_settings, handle)) in output.getvalue()
    assert (cache_folder(hub_settings, handle) / "saved_model.pb").is_file()


def test_download_models_reports_a_hub_failure_as_a_command_error(hub_settings, model_server):
    """A handle the server refuses ends the command with a CommandError naming the handle."""
    model_server.routes["/forbidden.tar.gz"] = (403, b"")
    handle = model_server.url("/forbidden.tar.gz")
    hub_settings.NST_HUB_HANDLE = handle
    with pytest.raises(CommandError, match="403") as raised:
        call_command("download_models", "--engine", "hub", stdout=io.StringIO())
    assert handle in str(raised.value)


def test_a_server_that_never_answers_times_out(hub_settings):
    """A hub that accepts the connection but never replies makes the model unavailable after NST_HUB_TIMEOUT."""
    hub_settings.NST_HUB_TIMEOUT = 1
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        hub_settings.NST_HUB_HANDLE = f"http://127.0.0.1:{silent.getsockname()[1]}/magenta/2.tar.gz"
        with pytest.raises(ModelUnavailable, match="timed out"):
            HubEngine()
    assert socket.getdefaulttimeout() is None
