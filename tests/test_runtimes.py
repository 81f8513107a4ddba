"""The runtimes that run the lite engine's networks (OpenVINO, LiteRT), with the real weights."""
import sys

import numpy as np
import pytest
from django.conf import settings
from django.core.checks import run_checks

from tfapp import host, tiling
from tfapp.engines import norm_statistics, runtimes
from tfapp.engines.lite import LiteEngine, TransferModel
from tfapp.exceptions import ModelUnavailable
from tfapp.imaging import image2tensor, open_image, style2tensor
from tfapp.methods.magenta import TRANSFER_FILE

from .conftest import CONTENT_DIR, STYLE_DIR

pytestmark = pytest.mark.model

needs_openvino = pytest.mark.skipif(not runtimes.is_installed("openvino"), reason="OpenVINO is not installed")
needs_bf16 = pytest.mark.skipif(
    not runtimes.native_bf16(), reason="this CPU has no native bfloat16 arithmetic (OpenVINO reports no BF16)"
)
lacks_bf16 = pytest.mark.skipif(runtimes.native_bf16(), reason="this CPU has native bfloat16 arithmetic")

#: Largest difference per colour value (0-1 scale) between OpenVINO f32 and LiteRT.
F32_TOLERANCE = 1e-4

#: The same for a 1x1 content. The network mirrors it up to 16x16, a flat image, whose
#: instance norms have zero variance: both runtimes then divide their own rounding
#: noise by the norm's tiny epsilon, so they differ more (measured: 7e-4 to 2e-3,
#: under half a level of 255; flat 64x64 images up to 0.03).
FLAT_TOLERANCE = 5e-3

#: Largest difference per colour value between OpenVINO bf16 and f32 (docs/engines.md states the measured one).
BF16_TOLERANCE = 0.05

#: Mean absolute difference, in levels of 255, between a 1024 px content tiled at 512 px and
#: the same content in one piece, with whole-image statistics (measured: 0.2).
TILED_TOLERANCE_LEVELS = 1.0


def engine_on(name, precision="f32"):
    return LiteEngine(settings.NST_LITE_MODEL_DIR, runtimes.choose(name, precision, 2))


@pytest.fixture(scope="module")
def litert():
    return engine_on("litert")


@pytest.fixture(scope="module")
def openvino():
    return engine_on("openvino")


@pytest.fixture(scope="module")
def vector(litert):
    return litert.style_vector(style2tensor(open_image(STYLE_DIR / "starry_night.jpg"), 256))


def photo(width, height):
    return image2tensor(open_image(CONTENT_DIR / "astronaut.png").resize((width, height)))


@needs_openvino
@pytest.mark.parametrize("width, height, tolerance", [
    (384, 384, F32_TOLERANCE), (512, 341, F32_TOLERANCE), (333, 517, F32_TOLERANCE), (2, 2, F32_TOLERANCE),
    (1, 1, FLAT_TOLERANCE),
])
def test_openvino_matches_litert(litert, openvino, vector, width, height, tolerance):
    """OpenVINO f32 gives LiteRT's picture to within 1e-4 per colour value, at the content's own size
    (a 1x1 content, a flat image to the network, within 5e-3)."""
    content = photo(width, height)
    expected = litert.transfer(content, vector)
    result = openvino.transfer(content, vector)
    assert result.shape == (1, height, width, 3)
    assert np.abs(result - expected).max() < tolerance


@needs_openvino
def test_the_default_runtime_is_openvino_in_f32(openvino):
    """With OpenVINO installed and no setting, the engine runs on it, and says so in its label."""
    assert runtimes.choose("", "f32", 2).name == "openvino"
    assert openvino.label.endswith("TFLite on OpenVINO, f32")


@needs_openvino
def test_the_default_precision_is_bf16_exactly_where_the_cpu_has_it():
    """Left at auto, OpenVINO runs in bf16 where it reports native bfloat16 (AVX-512 BF16, AMX), else in f32."""
    expected = "bf16" if runtimes.native_bf16() else "f32"
    assert runtimes.choose("", "auto", 2).precision == expected
    assert runtimes.choose("litert", "auto", 2).precision == "f32"
    assert runtimes.choose("openvino", "f32", 2).precision == "f32"


def test_native_bf16_is_read_from_the_cpu_flags():
    """AVX-512 BF16 or AMX counts as native bfloat16; AVX-512 alone or AVX2 does not."""
    assert host.has_native_bf16({"avx2", "avx512f", "avx512_bf16"})
    assert host.has_native_bf16({"avx2", "amx_bf16", "amx_tile"})
    assert not host.has_native_bf16({"avx2", "avx512f", "avx512bw"})
    assert not host.has_native_bf16({"avx2", "fma"})
    assert not host.has_native_bf16(set())


def test_the_host_description_names_the_cpu_and_its_flags():
    """Benchmarks print the CPU's model and which of AVX2, AVX-512, AVX-512 BF16 and AMX it has."""
    line = host.description()
    assert host.cpu_model() in line
    assert all(f"{flag}{'+' if flag in host.cpu_flags() else '-'}" in line for flag in host.NOTABLE_FLAGS)


def test_auto_resolves_from_the_runtime_and_the_cpu():
    """auto means bf16 only on OpenVINO with native bfloat16; f32 and bf16 mean themselves."""
    assert runtimes.resolved_precision("auto", "openvino", True) == "bf16"
    assert runtimes.resolved_precision("auto", "openvino", False) == "f32"
    assert runtimes.resolved_precision("auto", "litert", True) == "f32"
    assert runtimes.resolved_precision("f32", "openvino", True) == "f32"


@needs_openvino
@needs_bf16
def test_bf16_stays_within_the_stated_difference(openvino, vector):
    """On a CPU with native bfloat16, bf16 differs from f32 by no more than docs/engines.md states."""
    engine = engine_on("openvino", "bf16")
    assert engine.runtime.precision == "bf16"
    content = photo(512, 341)
    assert np.abs(engine.transfer(content, vector) - openvino.transfer(content, vector)).max() < BF16_TOLERANCE


@lacks_bf16
def test_bf16_falls_back_to_f32_and_the_check_says_why(settings):
    """Without native bfloat16, NST_PRECISION=bf16 runs in f32 and `manage.py check` warns with a hint."""
    settings.NST_PRECISION = "bf16"
    engine = LiteEngine(settings.NST_LITE_MODEL_DIR)
    assert engine.runtime.precision == "f32"
    warnings = [message for message in run_checks() if message.id == "tfapp.W014"]
    assert len(warnings) == 1 and "NST_PRECISION=f32" in warnings[0].hint


@needs_openvino
def test_a_runtime_that_is_not_installed_falls_back_and_the_check_says_so(settings, monkeypatch):
    """NST_RUNTIME=openvino where it cannot be imported: LiteRT runs, and the check names the package to install."""
    # None in sys.modules is how Python marks a module as absent: importing it fails.
    monkeypatch.setitem(sys.modules, "openvino", None)
    settings.NST_RUNTIME = "openvino"
    assert LiteEngine(settings.NST_LITE_MODEL_DIR).runtime.name == "litert"
    warnings = [message for message in run_checks() if message.id == "tfapp.W013"]
    assert len(warnings) == 1 and "pip install openvino" in warnings[0].hint
    assert "uses litert instead" in warnings[0].msg


def test_an_unknown_runtime_makes_the_engine_unavailable(settings):
    """NST_RUNTIME=tensorrt: the engine says which runtimes exist, and so does the check."""
    settings.NST_RUNTIME = "tensorrt"
    with pytest.raises(ModelUnavailable, match="openvino, litert"):
        LiteEngine(settings.NST_LITE_MODEL_DIR)
    assert [message.id for message in run_checks() if message.id.startswith("tfapp.W01")] == ["tfapp.W011"]


def test_the_default_settings_pass_the_check():
    """With the runtime and precision left at their defaults, no runtime warning is raised."""
    assert not [message for message in run_checks() if message.id in ("tfapp.W011", "tfapp.W012", "tfapp.W013")]


@needs_openvino
def test_the_transfer_network_has_13_instance_norms():
    """The graph surgery finds each instance norm's mean and variance."""
    flatbuffer = TransferModel((settings.NST_LITE_MODEL_DIR / TRANSFER_FILE).read_bytes()).for_size(64, 64)
    model = runtimes.OpenVinoRuntime(2).read(flatbuffer)
    assert len(norm_statistics.instance_norms(model)) == 13


@needs_openvino
def test_statistics_fed_back_reproduce_the_one_piece_result(vector):
    """A network fed the statistics another read on the same content gives exactly the plain network's output."""
    flatbuffer = TransferModel((settings.NST_LITE_MODEL_DIR / TRANSFER_FILE).read_bytes()).for_size(64, 96)
    runtime = runtimes.OpenVinoRuntime(2)
    inputs = {"content_image": photo(96, 64), "mobilenet_conv/Conv/BiasAdd": vector}
    plain = runtime.network(flatbuffer)(inputs)
    read = runtime.network(flatbuffer, shared_statistics="read")(inputs)
    assert len(read) == 27 and np.array_equal(read[0], plain[0])
    statistics = {f"statistic_{index}": statistic for index, statistic in enumerate(read[1:])}
    fed = runtime.network(flatbuffer, shared_statistics="fed")({**inputs, **statistics})
    assert np.array_equal(fed[0], plain[0])


@needs_openvino
def test_tiles_with_whole_image_statistics_match_the_one_piece_result(openvino, litert, vector):
    """A 1024 px content tiled at 512 px is within 1 level of 255 (mean) of one piece, 5x closer than per-tile."""
    content = photo(1024, 1024)
    assert max(tiling.plan_axis(1024, 512)[1]) > 0
    whole = openvino.transfer(content, vector)
    shared = np.abs(openvino.transfer(content, vector, 512) - whole).mean() * 255
    own_statistics = tiling.stylize_in_tiles(content, lambda tile: openvino.transfer(tile, vector), 512)
    per_tile = np.abs(own_statistics - whole).mean() * 255
    assert shared < TILED_TOLERANCE_LEVELS
    assert shared * 5 < per_tile


@needs_openvino
def test_litert_tiles_run_with_whole_image_statistics_too(openvino, litert, vector):
    """With NST_RUNTIME=litert, tiles go to OpenVINO (f32) with shared statistics: the same tiled picture as OpenVINO's."""
    content = photo(1024, 700)
    assert litert.tiling_runtime.name == "openvino" and litert.tiling_runtime.precision == "f32"
    tiled_on_litert = litert.transfer(content, vector, 512)
    assert np.abs(tiled_on_litert - openvino.transfer(content, vector, 512)).max() < F32_TOLERANCE
    assert np.abs(tiled_on_litert - litert.transfer(content, vector)).mean() * 255 < TILED_TOLERANCE_LEVELS


def test_downscaled_keeps_the_aspect_and_the_mean():
    """The statistics image is the content at most STATISTICS_SIZE long, with the same average colour."""
    content = np.random.default_rng(3).random((1, 300, 200, 3), dtype=np.float32)
    small = tiling.downscaled(content, 150)
    assert small.shape == (1, 150, 100, 3) and small.dtype == np.float32
    assert np.allclose(small.mean(axis=(1, 2)), content.mean(axis=(1, 2)), atol=1e-3)
    assert tiling.downscaled(content, 300) is content


def test_the_gatys_estimate_follows_its_precision(settings):
    """With NST_PRECISION=bf16 on a CPU with native BF16, the page promises Gatys about half the time."""
    from tfapp.methods.gatys import BF16_SHARE, Gatys

    settings.NST_PRECISION = "f32"
    exact = Gatys.estimate_seconds(512, 512)
    settings.NST_PRECISION = "bf16"
    expected = exact * BF16_SHARE if host.has_native_bf16() else exact
    assert Gatys.estimate_seconds(512, 512) == pytest.approx(expected, abs=0.1)
