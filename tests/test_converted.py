"""AdaIN and trained styles on OpenVINO give TensorFlow's pictures; NST_RUNTIME=litert keeps TensorFlow."""
import logging

import numpy as np
import pytest
from django.conf import settings
from django.test import override_settings

from tfapp.engines import adain, converted, runtimes
from tfapp.engines.trained import trained_method_class
from tfapp.imaging import image2tensor, open_image, style2tensor

from .conftest import CONTENT_DIR, STYLE_DIR
from .test_training import publish_untrained

pytestmark = [pytest.mark.model,
              pytest.mark.skipif(not runtimes.is_installed("openvino"), reason="OpenVINO is not installed")]

#: Largest difference per colour value (0-1 scale) between OpenVINO and TensorFlow (measured:
#: AdaIN at most 9.4e-6 at these sizes, tiles included, 3.4e-5 at 512 px; a trained style 3.9e-5).
TOLERANCE = 1e-4

SIZES = [(1, 1), (17, 23), (40, 33)]


@pytest.fixture(scope="module")
def adain_pair():
    """AdaIN with the settings' default runtime (OpenVINO here) in exact f32, and with NST_RUNTIME=litert."""
    with override_settings(NST_PRECISION="f32"):
        on_default = adain.AdainMethod(settings.NST_ADAIN_MODEL_DIR)
    with override_settings(NST_RUNTIME="litert"):
        on_litert = adain.AdainMethod(settings.NST_ADAIN_MODEL_DIR)
    return on_default, on_litert


@pytest.fixture(scope="module")
def trained_pair(tmp_path_factory):
    """A published trained style, loaded with the default runtime in exact f32 and with NST_RUNTIME=litert."""
    with override_settings(NST_TRAINED_MODEL_DIR=tmp_path_factory.mktemp("trained")):
        publish_untrained("converted", steps=5)
        method_class = trained_method_class("converted")
        with override_settings(NST_PRECISION="f32"):
            on_default = method_class()
        with override_settings(NST_RUNTIME="litert"):
            on_litert = method_class()
    return on_default, on_litert


@pytest.fixture(scope="module")
def photo():
    return image2tensor(open_image(CONTENT_DIR / "chelsea.png"), 160)


@pytest.fixture(scope="module")
def paintings():
    return [style2tensor(open_image(STYLE_DIR / name), 64) for name in ("starry_night.jpg", "the_scream.jpg")]


def assert_same_picture(result, expected, shape):
    assert result.shape == shape and result.dtype == np.float32
    assert np.abs(result - expected).max() < TOLERANCE


def test_the_default_runtime_runs_adain_on_openvino_and_litert_keeps_tensorflow(adain_pair):
    """Without NST_RUNTIME, AdaIN runs on OpenVINO; NST_RUNTIME=litert (no runner of its graphs) keeps TensorFlow."""
    on_default, on_litert = adain_pair
    assert on_default.label == "AdaIN on OpenVINO, f32"
    assert on_litert.label == "AdaIN on TensorFlow"


def test_adain_time_estimate_follows_the_precision(settings):
    """Where the CPU has native bfloat16 (the default precision there), the page expects AdaIN to take a fifth."""
    settings.NST_PRECISION = "f32"
    in_f32 = adain.AdainMethod.estimate_seconds(512, 512)
    settings.NST_PRECISION = "auto"
    expected = in_f32 * adain.AdainMethod.BF16_SHARE if runtimes.native_bf16() else in_f32
    assert adain.AdainMethod.estimate_seconds(512, 512) == pytest.approx(expected)


def test_adain_time_estimate_follows_the_runtime(settings):
    """The upload page expects an AdaIN transfer to take less time on OpenVINO than on TensorFlow."""
    on_openvino = adain.AdainMethod.estimate_seconds(512, 512)
    settings.NST_RUNTIME = "litert"
    assert adain.AdainMethod.estimate_seconds(512, 512) > on_openvino > 0


@pytest.mark.parametrize("height, width", SIZES)
def test_adain_on_openvino_matches_tensorflow(adain_pair, photo, paintings, height, width):
    """At 1x1, 17x23 and 40x33, OpenVINO's AdaIN is TensorFlow's to within 1e-4, at exactly the content's size."""
    content = photo[:, :height, :width]
    on_default, on_litert = adain_pair
    styles = [(paintings[0], 1.0)]
    assert_same_picture(on_default.stylize(content, styles), on_litert.stylize(content, styles),
                        (1, height, width, 3))


@pytest.mark.parametrize("strength, weights", [(0.5, (1.0,)), (1.0, (0.6, 0.4)), (0.3, (0.25, 0.75))])
def test_adain_strength_and_blends_on_openvino_match_tensorflow(adain_pair, photo, paintings, strength, weights):
    """Weaker strengths and two blended paintings give TensorFlow's picture on OpenVINO too."""
    content = photo[:, :40, :33]
    styles = list(zip(paintings, weights))
    on_default, on_litert = adain_pair
    assert_same_picture(on_default.stylize(content, styles, strength), on_litert.stylize(content, styles, strength),
                        (1, 40, 33, 3))


def test_tiled_adain_on_openvino_matches_tensorflow(adain_pair, photo, paintings):
    """A 160x106 photo in 128 px tiles (whole-photo statistics) is the same picture on both."""
    on_default, on_litert = adain_pair
    styles = [(paintings[1], 1.0)]
    assert_same_picture(on_default.stylize(photo, styles, tile_size=128),
                        on_litert.stylize(photo, styles, tile_size=128), photo.shape)


def test_the_default_runtime_runs_trained_styles_on_openvino_and_litert_keeps_tensorflow(trained_pair):
    """The trained style says what runs it: OpenVINO by default, TensorFlow with NST_RUNTIME=litert."""
    on_default, on_litert = trained_pair
    assert on_default.label == "Trained: converted on OpenVINO, f32"
    assert on_litert.label == "Trained: converted on TensorFlow"


@pytest.mark.parametrize("height, width", SIZES)
def test_a_trained_style_on_openvino_matches_tensorflow(trained_pair, photo, height, width):
    """At 1x1, 17x23 and 40x33 a published network gives TensorFlow's picture on OpenVINO, at the content's size."""
    content = photo[:, :height, :width]
    on_default, on_litert = trained_pair
    assert_same_picture(on_default.stylize(content), on_litert.stylize(content), (1, height, width, 3))


def test_a_tiled_trained_style_on_openvino_matches_tensorflow(trained_pair, photo):
    """A 160x106 photo in 128 px tiles is the same picture on both."""
    on_default, on_litert = trained_pair
    assert_same_picture(on_default.stylize(photo, tile_size=128), on_litert.stylize(photo, tile_size=128),
                        photo.shape)


def test_compiled_sizes_are_bounded_by_count_and_memory(trained_pair, monkeypatch):
    """A network keeps the most recent sizes up to CACHE_SIZES and within CACHE_BYTES; one size over it, none."""
    network = trained_pair[0]._network
    monkeypatch.setattr(converted, "CACHE_SIZES", 2)
    for side in (16, 17, 18, 16):
        assert network(np.zeros((1, side, side, 3), np.float32)).shape == (1, side, side, 3)
    assert network.compiled_shapes == [(1, 18, 18, 3), (1, 16, 16, 3)]
    monkeypatch.setattr(converted, "CACHE_BYTES", 2 * converted.COMPILED_BYTES)
    network(np.zeros((1, 19, 19, 3), np.float32))
    assert network.compiled_shapes == [(1, 19, 19, 3)]
    monkeypatch.setattr(converted, "CACHE_BYTES", converted.COMPILED_BYTES)
    assert network(np.zeros((1, 20, 20, 3), np.float32)).shape == (1, 20, 20, 3)
    assert network.compiled_shapes == []


def test_a_network_openvino_cannot_convert_runs_on_tensorflow(tmp_path, caplog):
    """A source the converter cannot read leaves the network to TensorFlow, with a warning that says so."""
    (tmp_path / "saved_model.pb").write_bytes(b"not a SavedModel")
    with caplog.at_level(logging.WARNING, logger="tfapp.engines.converted"):
        network = converted.network(lambda inputs: inputs + 1, str(tmp_path), runtimes.choose("openvino", "f32", 1), 1)
    assert network.runs_on == "TensorFlow" and network(np.zeros(2))[0] == 1
    assert "TensorFlow runs it" in caplog.text
