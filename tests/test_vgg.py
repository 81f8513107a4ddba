"""The shared VGG-19 loss network: its input convention, Gram matrices and losses."""
import numpy as np
import pytest
import tensorflow as tf
from django.conf import settings
from PIL import Image

from tfapp.engines import vgg
from tfapp.imaging import image2tensor

from .conftest import CONTENT_DIR, STYLE_DIR

pytestmark = pytest.mark.model


def encoder_graph_features(image):
    """relu4_1 of the AdaIN encoder's frozen graph (RGB 0..255 input), for comparison."""
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString((settings.NST_ADAIN_MODEL_DIR / "encoder_opt_quantized.pb").read_bytes())
    wrapped = tf.compat.v1.wrap_function(lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
    encode = wrapped.prune("input:0", "output/Relu:0")
    return encode(tf.constant(image * 255.0)).numpy()


def test_relu4_1_matches_the_adain_encoder_graph():
    """Our conv4_1 features equal the AdaIN encoder graph's on a photo, to 1e-3 of their range."""
    photo = image2tensor(Image.open(CONTENT_DIR / "chelsea.png"), 160)
    ours = vgg.VGG19().features(tf.constant(photo), ("relu4_1",))["relu4_1"].numpy()
    theirs = encoder_graph_features(photo)
    assert ours.shape == theirs.shape == (1, 106 // 8, 160 // 8, 512)
    assert np.abs(ours - theirs).max() <= 1e-3 * theirs.max()


def test_rgb_order_matters_to_the_features():
    """Feeding BGR instead of RGB changes relu1_1: the convention test above could not pass by accident."""
    photo = image2tensor(Image.open(CONTENT_DIR / "coffee.png"), 64)
    network = vgg.VGG19()
    rgb = network.features(tf.constant(photo), ("relu1_1",))["relu1_1"]
    bgr = network.features(tf.constant(photo[..., ::-1]), ("relu1_1",))["relu1_1"]
    assert float(tf.reduce_mean(tf.abs(rgb - bgr))) > 0.05 * float(tf.reduce_mean(rgb))


def test_style_loss_is_zero_for_the_style_itself_and_positive_for_a_photo():
    """The Gram loss of a painting against itself is 0; a photo is far from it."""
    network = vgg.VGG19()
    painting = tf.constant(image2tensor(Image.open(STYLE_DIR / "starry_night.jpg"), 96))
    photo = tf.constant(image2tensor(Image.open(CONTENT_DIR / "astronaut.png"), 96))
    targets = vgg.style_targets(network, [(painting, 1.0)])
    itself = vgg.style_loss(network.features(painting), targets)
    other = vgg.style_loss(network.features(photo), targets)
    assert float(itself) < 1e-6 * float(other)
    assert float(other) > 0


def test_blended_gram_targets_are_the_weighted_mean():
    """Blending two styles averages their Gram matrices by weight."""
    network = vgg.VGG19()
    first = tf.constant(image2tensor(Image.open(STYLE_DIR / "the_scream.jpg"), 64))
    second = tf.constant(image2tensor(Image.open(STYLE_DIR / "shipwreck.jpg"), 64))
    blended = vgg.style_targets(network, [(first, 0.25), (second, 0.75)])
    alone = [vgg.style_targets(network, [(image, 1.0)]) for image in (first, second)]
    for layer in vgg.STYLE_LAYERS:
        expected = 0.25 * alone[0][layer] + 0.75 * alone[1][layer]
        np.testing.assert_allclose(blended[layer], expected, rtol=1e-5, atol=1e-5 * float(tf.reduce_max(expected)))


def test_total_variation_of_a_flat_image_is_zero():
    """A flat image has no variation; a checkerboard has the most."""
    flat = tf.fill((1, 8, 8, 3), 0.5)
    checker = tf.constant(np.indices((8, 8)).sum(axis=0) % 2, tf.float32)[None, :, :, None] * tf.ones((1, 1, 1, 3))
    assert float(vgg.total_variation(flat)) == 0
    assert float(vgg.total_variation(checker)) == pytest.approx(2.0)


def test_the_luminance_laplacian_sees_lines_not_colours():
    """Zero on a flat image and across a change of hue at one luminance; a step in brightness marks its two sides."""
    flat = np.full((1, 8, 8, 3), 0.5, np.float32)
    assert np.abs(vgg.luminance_laplacian(tf.constant(flat)).numpy()).max() < 1e-6
    # Red beside a green of the same BT.601 luminance: the colours change, the structure does not.
    hues = np.zeros((1, 8, 8, 3), np.float32)
    hues[:, :, :4, 0] = 0.587
    hues[:, :, 4:, 1] = 0.299
    assert np.abs(vgg.luminance_laplacian(tf.constant(hues)).numpy()).max() < 1e-6
    step = np.zeros((1, 8, 8, 3), np.float32)
    step[:, :, 4:] = 1.0
    laplacian = vgg.luminance_laplacian(tf.constant(step)).numpy()[0, :, :, 0]
    assert laplacian.shape == (8, 8)
    np.testing.assert_allclose(laplacian[:, 3], -1.0, atol=1e-6)
    np.testing.assert_allclose(laplacian[:, 4], 1.0, atol=1e-6)
    assert np.abs(np.delete(laplacian, [3, 4], axis=1)).max() < 1e-6


def test_missing_weights_say_which_file_and_how_to_fix_it(settings, tmp_path):
    """A missing weights file is reported with its path and the command that fetches it."""
    from tfapp.exceptions import ModelUnavailable

    with pytest.raises(ModelUnavailable, match="download_models --engine vgg"):
        vgg.VGG19(tmp_path / "nothing.npz")


def test_gatys_runs_the_vgg_in_bf16_only_when_asked_on_a_cpu_that_has_it(settings):
    """Left at auto, Gatys computes in f32 (its losses move too far in bf16); NST_PRECISION=bf16 uses native BF16."""
    from tfapp import host
    from tfapp.engines.gatys import GatysMethod

    assert GatysMethod()._vgg.precision == "f32"
    settings.NST_PRECISION = "bf16"
    assert GatysMethod()._vgg.precision == ("bf16" if host.has_native_bf16() else "f32")


def test_bf16_features_keep_the_gram_matrices_within_a_few_percent():
    """The style Gatys matches (each layer's Gram matrix) moves by under 1 % in bf16 (0.3-0.5 % measured); features come back in f32."""
    painting = tf.constant(image2tensor(Image.open(STYLE_DIR / "woman_with_hat.jpg"), 128))
    exact = vgg.VGG19(precision="f32").features(painting)
    rounded = vgg.VGG19(precision="bf16").features(painting)
    for layer in vgg.STYLE_LAYERS:
        assert rounded[layer].dtype == tf.float32
        assert 0 < float(vgg.relative_error(vgg.gram(rounded[layer]), vgg.gram(exact[layer]))) < 0.01 ** 2
