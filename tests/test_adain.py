"""The AdaIN method on the real graphs from ../shared, with small images."""
import numpy as np
import pytest
import tensorflow as tf
from django.conf import settings
from PIL import Image

from tfapp import tiling
from tfapp.engines import adain, runtimes, tf_threads
from tfapp.exceptions import ModelUnavailable
from tfapp.imaging import image2tensor, style2tensor
from tfapp.methods import adain as adain_declaration

from .conftest import CONTENT_DIR, STYLE_DIR
from .metrics import colour_distance, seam_ratio

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def method():
    """AdaIN in exact f32, whatever the CPU (the default may be bf16; see the last tests)."""
    return adain.AdainMethod(settings.NST_ADAIN_MODEL_DIR, runtimes.choose("", "f32", 2))


@pytest.fixture(scope="module")
def photo():
    return image2tensor(Image.open(CONTENT_DIR / "chelsea.png"), 96)


@pytest.fixture(scope="module")
def starry_night():
    return style2tensor(Image.open(STYLE_DIR / "starry_night.jpg"), 96)


@pytest.fixture(scope="module")
def the_scream():
    return style2tensor(Image.open(STYLE_DIR / "the_scream.jpg"), 96)


def mean_difference(first, second):
    """Mean absolute difference of two images in [0, 1]."""
    return float(np.abs(np.asarray(first) - np.asarray(second)).mean())


def as_pixels(image):
    return np.round(np.asarray(image)[0] * 255)


def shipped_graphs(content, style):
    """The frozen graphs as published: encoder, then the decoder with its own AdaIN (alpha 1)."""
    graphs = []
    for name in adain_declaration.FILES:
        graph_def = tf.compat.v1.GraphDef()
        graph_def.ParseFromString((settings.NST_ADAIN_MODEL_DIR / name).read_bytes())
        graphs.append(tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), []))
    encode = graphs[0].prune("input:0", "output/Relu:0")
    decode = graphs[1].prune(["input_c:0", "input_s:0"], "output/mul:0")
    return decode(encode(tf.constant(content * 255)), encode(tf.constant(style * 255))).numpy() / 255


def test_full_strength_equals_the_shipped_graphs(method, photo, starry_night):
    """At strength 1 the float weights and our AdaIN give the published graphs' image, to 1e-4."""
    content = photo[:, :64, :96]
    ours = method.stylize(content, [(starry_night, 1.0)])
    np.testing.assert_allclose(ours, shipped_graphs(content, starry_night), atol=1e-4)


@pytest.mark.parametrize("size", [(83, 129), (129, 83), (1, 1), (1, 2), (17, 68), (68, 17), (7, 7)])
def test_output_has_exactly_the_content_size(method, starry_night, size):
    """Odd sides (333x517 scaled down), 1x1, 1:4 and 4:1 come back at exactly their size, in [0, 1]."""
    content = np.random.default_rng(0).random((1, *size, 3), dtype=np.float32)
    result = method.stylize(content, [(starry_night, 1.0)])
    assert result.shape == (1, *size, 3) and result.dtype == np.float32
    assert 0.0 <= result.min() and result.max() <= 1.0


def test_result_differs_from_the_photo(method, photo, starry_night):
    """The repainted photo is not the photo: on average over a tenth of the range away from it."""
    assert mean_difference(method.stylize(photo, [(starry_night, 1.0)]), photo) > 0.1


def test_colours_move_towards_the_painting(method, photo, starry_night):
    """The result's RGB palette is under half as far from the painting's as the photo's is.

    Distance: the Fréchet distance of Gaussian fits to the pixels (tests.metrics.colour_distance);
    measured 0.018 against the photo's 0.108 at 128 px.
    """
    result = method.stylize(photo, [(starry_night, 1.0)])
    before = colour_distance(as_pixels(photo), as_pixels(starry_night))
    after = colour_distance(as_pixels(result), as_pixels(starry_night))
    assert after < 0.5 * before


def test_strength_zero_stays_close_to_the_photo(method, photo, starry_night):
    """Strength 0 (the decoder's rendition of the photo) differs from it at most 0.6 times as much as strength 1."""
    zero = method.stylize(photo, [(starry_night, 1.0)], strength=0.0)
    full = method.stylize(photo, [(starry_night, 1.0)], strength=1.0)
    assert mean_difference(zero, photo) < 0.6 * mean_difference(full, photo)


def test_strength_moves_monotonically(method, photo, starry_night):
    """Raising the strength moves the result steadily away from the photo's rendition."""
    results = [method.stylize(photo, [(starry_night, 1.0)], strength=alpha) for alpha in (0.0, 0.5, 1.0)]
    assert mean_difference(results[0], results[1]) < mean_difference(results[0], results[2])


def test_a_style_blended_with_itself_is_that_style(method, photo, starry_night):
    """Blending a painting 50/50 with itself gives what the painting alone gives."""
    alone = method.stylize(photo, [(starry_night, 1.0)])
    halves = method.stylize(photo, [(starry_night, 0.5), (starry_night, 0.5)])
    np.testing.assert_allclose(halves, alone, atol=1e-5)


def test_blend_weights_move_the_result_continuously(method, photo, starry_night, the_scream):
    """As the first painting's weight grows, the result comes steadily closer to that painting's result."""
    only_first = method.stylize(photo, [(starry_night, 1.0)])
    distances = [mean_difference(method.stylize(photo, [(starry_night, weight), (the_scream, 1 - weight)]), only_first)
                 for weight in (0.25, 0.5, 0.75)]
    only_second = mean_difference(method.stylize(photo, [(the_scream, 1.0)]), only_first)
    assert only_second > distances[0] > distances[1] > distances[2] > 0


def test_tiles_agree_with_a_one_piece_run(method, starry_night):
    """Tiles sharing the whole photo's statistics show no seams and stay within 0.05 of the one-piece result.

    (Measured 0.038 for 192 px tiles of a 256 px photo; each tile on its own statistics: 0.048.)
    """
    content = image2tensor(Image.open(CONTENT_DIR / "coffee.png"), 256)
    whole = method.stylize(content, [(starry_night, 1.0)])
    tiled = method.stylize(content, [(starry_night, 1.0)], tile_size=192)
    assert tiled.shape == whole.shape and 0.0 <= tiled.min() and tiled.max() <= 1.0
    assert mean_difference(tiled, whole) < 0.05
    rows, columns = tiling.tile_borders(content.shape[1], 192), tiling.tile_borders(content.shape[2], 192)
    assert seam_ratio(as_pixels(tiled), rows, columns) < 1.1 * seam_ratio(as_pixels(whole), rows, columns)


def test_missing_weights_folder_names_the_fix(tmp_path):
    """Without the graphs, loading raises ModelUnavailable naming the folder and the command that fetches them."""
    with pytest.raises(ModelUnavailable, match="download_models --engine adain") as raised:
        adain.AdainMethod(tmp_path / "absent")
    assert str(tmp_path / "absent") in str(raised.value)


def test_unreadable_graph_is_model_unavailable(tmp_path):
    """A damaged graph file is reported as unavailable, not as a protobuf traceback."""
    for name in adain_declaration.FILES:
        (tmp_path / name).write_bytes(b"not a graph")
    with pytest.raises(ModelUnavailable, match="could not be read"):
        adain.AdainMethod(tmp_path)


def test_capabilities_are_readable_without_weights():
    """The form reads what AdaIN offers from the class, without loading anything."""
    capabilities = adain.AdainMethod.capabilities
    assert all((capabilities.strength, capabilities.blending, capabilities.preserve_colours, capabilities.style_scale))
    assert not (capabilities.previews or capabilities.cancel or capabilities.qualities)
    assert adain.AdainMethod.estimate_seconds(1024, 1024) > adain.AdainMethod.estimate_seconds(512, 512) > 0


def test_thread_count_cannot_change_once_tensorflow_runs():
    """After TensorFlow has run, another thread count is refused with a warning and the pools stay."""
    tf.constant(1.0) + 1.0
    current = tf.config.threading.get_intra_op_parallelism_threads()
    assert tf_threads.use_engine_threads(current + 3) is False
    assert tf.config.threading.get_intra_op_parallelism_threads() == current


def test_a_style_of_weight_zero_changes_nothing_through_the_pipeline():
    """Blend weights (1, 0) give exactly the single style's AdaIN result."""
    from tfapp import pipeline
    from tfapp.imaging import open_image

    photo = open_image(CONTENT_DIR / "chelsea.png")
    first, second = (open_image(STYLE_DIR / name) for name in ("the_scream.jpg", "shipwreck.jpg"))
    options = pipeline.Options(method="adain", max_size=96, style_size=64)
    alone = pipeline.stylize(photo, [(first, 1.0)], options).image
    blended = pipeline.stylize(photo, [(first, 1.0), (second, 0.0)], options).image
    assert np.array_equal(np.asarray(alone), np.asarray(blended))


def test_a_stored_style_vector_gives_the_same_picture_as_the_painting(method, photo, starry_night, the_scream):
    """AdaIN's style vector (the painting's feature statistics) stands in for the painting, blends included."""
    vectors = [method.style_vector(style) for style in (starry_night, the_scream)]
    assert vectors[0].shape == method.style_vector_shape == (1, 1, 1, 1024)
    from_images = method.stylize(photo, [(starry_night, 0.7), (the_scream, 0.3)], strength=0.8)
    from_vectors = method.stylize(photo, [(vectors[0], 0.7), (vectors[1], 0.3)], strength=0.8)
    assert np.abs(from_images - from_vectors).max() < 1e-6


#: Mean and largest difference per colour value (0-1 scale) of AdaIN in bf16 from f32 (measured on an
#: AVX-512 BF16 + AMX host: mean 0.0011, max 0.0068 at 96 px; mean 0.0014, max 0.044 at 512 px).
BF16_MEAN_TOLERANCE = 0.01
BF16_MAX_TOLERANCE = 0.1


@pytest.mark.skipif(not runtimes.native_bf16(), reason="this CPU has no native bfloat16 arithmetic")
def test_the_default_precision_stays_close_to_f32_on_a_bf16_cpu(method, photo, starry_night):
    """Where the CPU has native bfloat16, AdaIN runs in it by default, within a small difference of f32."""
    default = adain.AdainMethod(settings.NST_ADAIN_MODEL_DIR)
    assert default.label.endswith("bf16")
    difference = np.abs(default.stylize(photo, [(starry_night, 1.0)]) - method.stylize(photo, [(starry_night, 1.0)]))
    assert difference.mean() < BF16_MEAN_TOLERANCE and difference.max() < BF16_MAX_TOLERANCE
