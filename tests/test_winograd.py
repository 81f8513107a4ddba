"""Winograd's F(4x4, 3x3) convolutions: the same function as a direct 3x3 convolution, up to rounding."""
import numpy as np
import pytest
import tensorflow as tf
from django.conf import settings

from tfapp.engines import adain, runtimes, winograd

#: Largest difference from the direct convolution, as a share of the output's largest value.
ROUNDING = 3e-5


@pytest.mark.parametrize("shape", [(1, 1, 1, 3, 2), (1, 4, 4, 8, 8), (1, 5, 7, 16, 4), (2, 13, 9, 8, 3),
                                   (1, 17, 30, 128, 256)])
def test_equals_a_direct_convolution_at_any_size(shape):
    """Sides that are no multiple of the tile, batches and wide layers all give conv2d's output."""
    batch, height, width, channels, outputs = shape
    generator = np.random.default_rng(sum(shape))
    kernel = generator.standard_normal((3, 3, channels, outputs)).astype(np.float32)
    padded = generator.standard_normal((batch, height + 2, width + 2, channels)).astype(np.float32)
    direct = tf.nn.conv2d(padded, kernel, 1, "VALID").numpy()
    ours = winograd.convolve(tf.constant(padded), tf.constant(winograd.transformed(kernel))).numpy()
    assert ours.shape == direct.shape
    assert np.abs(ours - direct).max() <= ROUNDING * np.abs(direct).max()


def test_only_wide_convolutions_are_worth_it():
    """The measured rule: 128 -> 256 channels and wider pay, 128 -> 128 and narrower do not."""
    def kernel(channels, outputs):
        return np.zeros((3, 3, channels, outputs), np.float32)

    assert winograd.worth_it(kernel(256, 256)) and winograd.worth_it(kernel(128, 256))
    assert winograd.worth_it(kernel(512, 256)) and winograd.worth_it(kernel(256, 128))
    assert not winograd.worth_it(kernel(128, 128)) and not winograd.worth_it(kernel(64, 128))
    assert not winograd.worth_it(np.zeros((1, 1, 512, 512), np.float32))


@pytest.mark.model
def test_adain_gives_the_same_picture_either_way(photo_and_painting):
    """AdaIN on OpenVINO in f32 (Winograd by default there) matches its direct convolutions to a hundredth of a level."""
    photo, painting = photo_and_painting
    runtime = runtimes.choose("openvino", "f32", 2)
    if not runtime.converts_tensorflow:
        pytest.skip("OpenVINO is not installed here")
    default, direct = (adain.AdainMethod(settings.NST_ADAIN_MODEL_DIR, runtime, winograd=choice)
                       for choice in (None, False))
    difference = np.abs(default.stylize(photo, [(painting, 1.0)]) - direct.stylize(photo, [(painting, 1.0)]))
    assert difference.max() * 255 < 0.05


@pytest.mark.model
@pytest.mark.parametrize("setting, precision", [("openvino", "f32"), ("openvino", "bf16"), ("litert", "f32")])
def test_only_openvino_in_float32_takes_winograd_by_default(setting, precision):
    """Winograd's rounding would grow in bfloat16, and TensorFlow (litert's choice) is the reference: both keep conv2d."""
    runtime = runtimes.choose(setting, precision, 2)
    method = adain.AdainMethod(settings.NST_ADAIN_MODEL_DIR, runtime)
    assert method.winograd == (runtime.converts_tensorflow and runtime.precision == "f32")


@pytest.fixture(scope="module")
def photo_and_painting():
    from PIL import Image

    from tfapp.imaging import image2tensor, style2tensor

    from .conftest import CONTENT_DIR, STYLE_DIR

    return (image2tensor(Image.open(CONTENT_DIR / "chelsea.png"), 120),
            style2tensor(Image.open(STYLE_DIR / "starry_night.jpg"), 96))
