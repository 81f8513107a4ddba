"""The two-stage Magenta TFLite engine with the real weights from ../shared/models."""
import numpy as np
import pytest
from django.conf import settings

from tfapp.engines.lite import LiteEngine, TransferModel
from tfapp.exceptions import ModelUnavailable
from tfapp.imaging import image2tensor, open_image, style2tensor, tensor2image

from .conftest import CONTENT_DIR, STYLE_DIR
from .metrics import colour_distance

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def engine():
    return LiteEngine(settings.NST_LITE_MODEL_DIR)


@pytest.fixture(scope="module")
def starry_night():
    return style2tensor(open_image(STYLE_DIR / "starry_night.jpg"), 256)


@pytest.mark.parametrize("name", ["astronaut.png", "chelsea.png", "coffee.png"])
def test_output_has_the_content_size(engine, starry_night, name):
    """Whatever the content's size and aspect ratio, the result has exactly that size."""
    content = image2tensor(open_image(CONTENT_DIR / name), max_size=512)
    assert engine.stylize(content, [(starry_night, 1.0)]).shape == content.shape


@pytest.mark.parametrize("height, width", [(1, 1), (3, 30), (30, 3), (51, 510), (510, 51), (383, 385), (97, 131)])
def test_odd_and_tiny_sizes_keep_their_size(engine, starry_night, height, width):
    """Sizes that are not multiples of four, and 1x1, come back unchanged in size, in [0, 1]."""
    content = np.random.default_rng(1).random((1, height, width, 3), dtype=np.float32)
    output = engine.stylize(content, [(starry_night, 1.0)])
    assert output.shape == (1, height, width, 3)
    assert 0.0 <= output.min() and output.max() <= 1.0


def test_at_384_the_rewritten_model_matches_the_shipped_one(engine, starry_night):
    """Rewriting the upsampling sizes changes nothing at the size the file was exported for."""
    from ai_edge_litert.interpreter import Interpreter

    content = image2tensor(open_image(CONTENT_DIR / "astronaut.png").resize((384, 384)))
    vector = engine.style_vector(starry_night)
    shipped = Interpreter(model_path=str(settings.NST_LITE_MODEL_DIR / "style_transfer_f16_384.tflite"))
    shipped.allocate_tensors()
    inputs = {d["name"]: d["index"] for d in shipped.get_input_details()}
    shipped.set_tensor(inputs["content_image"], content)
    shipped.set_tensor(inputs["mobilenet_conv/Conv/BiasAdd"], vector)
    shipped.invoke()
    expected = shipped.get_tensor(shipped.get_output_details()[0]["index"])
    assert np.allclose(engine.transfer(content, vector), expected, atol=1e-5)


@pytest.mark.parametrize("style_name", ["starry_night.jpg", "the_scream.jpg", "shipwreck.jpg", "woman_with_hat.jpg"])
def test_result_colours_move_towards_the_style(engine, style_name):
    """The result differs from the photo and its colours are measurably closer to the painting's."""
    photo = open_image(CONTENT_DIR / "chelsea.png")
    painting = open_image(STYLE_DIR / style_name)
    content = image2tensor(photo, 512)
    result = tensor2image(engine.stylize(content, [(style2tensor(painting, 256), 1.0)]))
    photo_pixels = tensor2image(content)
    assert np.abs(np.asarray(result, float) - np.asarray(photo_pixels, float)).mean() > 10
    assert colour_distance(result, painting) < 0.7 * colour_distance(photo_pixels, painting)


def test_style_vector_has_100_numbers_for_any_style_size(engine):
    """The style predictor accepts any style size and returns a [1, 1, 1, 100] vector."""
    painting = open_image(STYLE_DIR / "the_scream.jpg")
    for size in (128, 256, 512):
        assert engine.style_vector(style2tensor(painting, size)).shape == (1, 1, 1, 100)


def test_missing_files_make_the_engine_unavailable(tmp_path):
    """An empty model folder gives a sentence naming the missing files and the setting to fix."""
    with pytest.raises(ModelUnavailable, match="NST_LITE_MODEL_DIR") as error:
        LiteEngine(tmp_path)
    assert "style_transfer_f16_384.tflite" in str(error.value)


def test_corrupt_model_file_makes_the_engine_unavailable(tmp_path):
    """A damaged .tflite file is reported as unavailable, not as a crash."""
    for name in ("style_predict_quantized_256.tflite", "style_transfer_f16_384.tflite"):
        (tmp_path / name).write_bytes(b"garbage" * 100)
    with pytest.raises(ModelUnavailable, match="could not be loaded"):
        LiteEngine(tmp_path)


def test_transfer_model_refuses_a_graph_without_three_upsampling_steps(tmp_path):
    """The size rewrite checks it found the graph it was written for."""
    predictor = (settings.NST_LITE_MODEL_DIR / "style_predict_quantized_256.tflite").read_bytes()
    with pytest.raises(ValueError, match="3 upsampling steps"):
        TransferModel(predictor)
