"""Creative controls of the pipeline: strength, style blending, preset vectors, colours, style scale."""
import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from tfapp import colour, pipeline
from tfapp.methods.base import Method
from tfapp.engines.lite import LiteEngine
from tfapp.exceptions import UnsupportedByEngine
from tfapp.imaging import image2tensor, open_image, tensor2image
from tfapp.pipeline import Options

from .conftest import CONTENT_DIR, STYLE_DIR, make_image
from .metrics import chroma, colour_distance, mean_absolute_difference, mean_frequency

pytestmark = pytest.mark.model

PAINTINGS = ["starry_night.jpg", "the_scream.jpg", "shipwreck.jpg", "woman_with_hat.jpg"]
SMALL = 384


@pytest.fixture(scope="module")
def engine():
    return LiteEngine(settings.NST_LITE_MODEL_DIR)


@pytest.fixture(scope="module")
def photo():
    return open_image(CONTENT_DIR / "chelsea.png")


@pytest.fixture(scope="module")
def paintings():
    return {name: open_image(STYLE_DIR / name) for name in PAINTINGS}


def pixels(image):
    return np.asarray(image)


class ImageOnlyEngine(Method):
    """A method like the TF-Hub one: style images in, no style vectors, no strength; returns the content."""

    name = "image-only"
    engine = "image-only"
    label = "Image-only test"

    def stylize(self, content, styles, **options):
        return content


@pytest.mark.parametrize("name", PAINTINGS)
def test_strength_runs_from_the_photos_palette_to_the_paintings(engine, photo, paintings, name):
    """Palette distance to the photo grows with strength; at 0 it is under a quarter of that at 1 (the plain result)."""
    reference = tensor2image(image2tensor(photo, SMALL))
    painting = [(paintings[name], 1)]
    results = {strength: pipeline.stylize(photo, painting, Options(max_size=SMALL, strength=strength), engine).image
               for strength in (0.0, 0.5, 1.0)}
    distances = [colour_distance(results[strength], reference) for strength in (0.0, 0.5, 1.0)]
    plain = pipeline.stylize(photo, paintings[name], Options(max_size=SMALL), engine).image
    assert np.array_equal(pixels(results[1.0]), pixels(plain))
    assert distances[0] < distances[1] < distances[2]
    assert distances[0] < 0.25 * distances[2]


def test_strength_outside_zero_to_one_is_refused(engine, photo, paintings):
    """A strength above 1 is a ValueError naming the allowed range."""
    with pytest.raises(ValueError, match="between 0 and 1"):
        pipeline.stylize(photo, paintings["the_scream.jpg"], Options(max_size=SMALL, strength=1.5), engine)


def test_a_blend_with_zero_weight_is_exactly_the_single_style(engine, photo, paintings):
    """Weights (1, 0) give the very pixels of the first style alone."""
    single = pipeline.stylize(photo, paintings["starry_night.jpg"], Options(max_size=SMALL), engine).image
    blend = pipeline.stylize(photo, [(paintings["starry_night.jpg"], 1), (paintings["the_scream.jpg"], 0)],
                             Options(max_size=SMALL), engine).image
    assert np.array_equal(pixels(blend), pixels(single))


def test_an_even_blend_differs_from_both_styles(engine, photo, paintings):
    """Weights (0.5, 0.5) lie between the two styles: at least a third as far from each as they are from each other."""
    first, second = paintings["starry_night.jpg"], paintings["the_scream.jpg"]
    results = [pipeline.stylize(photo, styles, Options(max_size=SMALL), engine).image
               for styles in (first, second, [(first, 0.5), (second, 0.5)])]
    apart = mean_absolute_difference(results[0], results[1])
    assert mean_absolute_difference(results[2], results[0]) > apart / 3
    assert mean_absolute_difference(results[2], results[1]) > apart / 3


def test_weights_are_normalised(engine, photo, paintings):
    """Weights (2, 2) give exactly the result of (0.5, 0.5)."""
    first, second = paintings["shipwreck.jpg"], paintings["woman_with_hat.jpg"]
    halves = pipeline.stylize(photo, [(first, 0.5), (second, 0.5)], Options(max_size=SMALL), engine).image
    twos = pipeline.stylize(photo, [(first, 2), (second, 2)], Options(max_size=SMALL), engine).image
    assert np.array_equal(pixels(halves), pixels(twos))


@pytest.mark.parametrize("weights", [(0, 0), (1, -1), (1, float("nan"))])
def test_weights_must_be_non_negative_with_a_positive_sum(engine, photo, paintings, weights):
    """No positive weight, a negative one or NaN is a ValueError."""
    styles = list(zip((paintings["shipwreck.jpg"], paintings["the_scream.jpg"]), weights))
    with pytest.raises(ValueError, match="weight"):
        pipeline.stylize(photo, styles, Options(max_size=SMALL), engine)


def test_a_precomputed_style_vector_gives_the_same_result_as_its_image(engine, photo, paintings):
    """A preset's stored vector (from style_vector_of at the same style size) reproduces the upload's result exactly."""
    painting = paintings["woman_with_hat.jpg"]
    vector = pipeline.style_vector_of(painting, 256, True, engine)
    from_image = pipeline.stylize(photo, painting, Options(max_size=SMALL, style_size=256, style_pooling=True), engine).image
    from_vector = pipeline.stylize(photo, [(vector, 1)], Options(max_size=SMALL, style_size=256, style_pooling=True), engine).image
    assert vector.shape == (1, 1, 1, 100)
    assert np.array_equal(pixels(from_vector), pixels(from_image))


def test_a_style_vector_of_the_wrong_shape_is_refused(engine, photo):
    """Anything but a Pillow image or a [1, 1, 1, 100] array is a ValueError."""
    with pytest.raises(ValueError, match="style vector"):
        pipeline.stylize(photo, [(np.zeros(100, np.float32), 1)], Options(max_size=SMALL), engine)


def test_an_engine_without_style_vectors_still_takes_one_style_image(photo, paintings):
    """A single style image at full strength works on an image-only engine (e.g. TF-Hub)."""
    result = pipeline.stylize(photo, paintings["the_scream.jpg"], Options(max_size=SMALL), ImageOnlyEngine())
    assert np.array_equal(pixels(result.image), pixels(tensor2image(image2tensor(photo, SMALL))))


@pytest.mark.parametrize("control", ["strength", "blend", "vector"])
def test_an_engine_without_style_vectors_refuses_vector_controls(photo, paintings, control):
    """Strength, blending and stored vectors raise UnsupportedByEngine with a sentence naming the method."""
    painting = paintings["the_scream.jpg"]
    styles, options = {
        "strength": (painting, Options(max_size=SMALL, strength=0.5)),
        "blend": ([(painting, 1), (paintings["shipwreck.jpg"], 1)], Options(max_size=SMALL)),
        "vector": ([(np.zeros((1, 1, 1, 100), np.float32), 1)], Options(max_size=SMALL)),
    }[control]
    with pytest.raises(UnsupportedByEngine, match="Image-only test"):
        pipeline.stylize(photo, styles, options, ImageOnlyEngine())
    with pytest.raises(UnsupportedByEngine):
        pipeline.style_vector_of(painting, method=ImageOnlyEngine())


@pytest.mark.parametrize("name", PAINTINGS)
def test_preserved_colours_are_the_photos_not_the_paintings(engine, photo, paintings, name):
    """With preserve_colours the chroma is the photo's (under 0.5 levels off); plainly it is over 10 levels off."""
    reference = tensor2image(image2tensor(photo, SMALL))
    plain = pipeline.stylize(photo, paintings[name], Options(max_size=SMALL), engine).image
    kept = pipeline.stylize(photo, paintings[name], Options(max_size=SMALL, preserve_colours=True), engine).image
    assert np.abs(chroma(kept) - chroma(reference)).mean() < 0.5
    assert np.abs(chroma(plain) - chroma(reference)).mean() > 10
    assert mean_absolute_difference(kept, reference) > 5


def test_matched_luminance_has_the_photos_brightness_and_contrast(engine, photo, paintings):
    """With match_luminance the result's luma mean and spread equal the photo's within a level; without, they do not."""
    reference = tensor2image(image2tensor(photo, SMALL))
    painting = paintings["shipwreck.jpg"]
    matched, unmatched = (
        pipeline.stylize(photo, painting, Options(max_size=SMALL, preserve_colours=True, match_luminance=match), engine).image
        for match in (True, False))
    reference_luma = colour.luminance(pixels(reference))
    assert abs(colour.luminance(pixels(matched)).mean() - reference_luma.mean()) < 1
    assert abs(colour.luminance(pixels(matched)).std() - reference_luma.std()) < 1
    assert abs(colour.luminance(pixels(unmatched)).mean() - reference_luma.mean()) > 10


def test_preserve_colours_swaps_luminance_and_keeps_chroma():
    """On synthetic images the result's luma is the stylized image's and its chroma the content's, to rounding."""
    random = np.random.default_rng(3)
    # Mid-range values, so that no channel is clipped, the one place chroma may drift.
    content = Image.fromarray(random.integers(90, 160, (30, 40, 3), dtype=np.uint8))
    stylized = Image.fromarray(random.integers(100, 150, (30, 40, 3), dtype=np.uint8))
    result = colour.preserve_colours(stylized, content, match_luminance=False)
    assert np.abs(colour.luminance(pixels(result)) - colour.luminance(pixels(stylized))).max() < 1.0
    assert np.abs(chroma(result) - chroma(content)).max() < 1.0


def test_preserve_colours_needs_images_of_one_size():
    """Images of different sizes are a ValueError, not a silently cropped result."""
    with pytest.raises(ValueError, match="differ in size"):
        colour.preserve_colours(make_image((40, 30)), make_image((30, 40)))


@pytest.mark.parametrize("name", PAINTINGS)
def test_a_larger_style_size_paints_coarser_texture(engine, photo, paintings, name):
    """Seen at 256 px rather than 128, every painting gives a mean spatial frequency at least 4 % lower."""
    coarse, fine = (pipeline.stylize(photo, paintings[name], Options(max_size=512, style_size=style_size), engine).image
                    for style_size in (256, 128))
    assert mean_frequency(fine) > 1.04 * mean_frequency(coarse)
