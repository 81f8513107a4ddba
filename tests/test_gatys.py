"""Gatys et al.'s optimisation: it lowers its objective, keeps the photo's structure and size, reports progress,
stops on cancel, and its time estimate is the one model the page and the form share."""
import time

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfapp import engines, pipeline
from tfapp.engines import gatys, vgg
from tfapp.methods.base import Progress
from tfapp.exceptions import Cancelled
from tfapp.imaging import image2tensor, open_image, style2tensor

from . import scenes
from .conftest import CONTENT_DIR, STYLE_DIR
from .metrics import edge_correlation

pytestmark = pytest.mark.model

# Short schedules: tests see the behaviour, bench/gatys.py the real presets.
SHORT = gatys.Schedule((30,))
ONE_STEP_PER_SCALE = gatys.Schedule((1,))


@pytest.fixture(scope="module")
def method():
    return gatys.GatysMethod()


@pytest.fixture(scope="module")
def photo():
    return image2tensor(Image.open(CONTENT_DIR / "astronaut.png"), 48)


@pytest.fixture(scope="module")
def painting():
    return style2tensor(Image.open(STYLE_DIR / "starry_night.jpg"), 48)


@pytest.fixture(scope="module")
def stylized(method, photo, painting):
    return method.stylize(photo, [(painting, 1.0)], schedule=SHORT)


def weighted_objective(method, image, photo, painting):
    """The style and content terms Gatys balances, at full strength, for ``image``."""
    features = method._vgg.features(tf.constant(image))
    photo_features = method._vgg.features(tf.constant(photo))
    targets = vgg.style_targets(method._vgg, [(tf.constant(painting), 1.0)])
    style = sum(weight * vgg.relative_error(vgg.gram(features[layer]), targets[layer])
                for layer, weight in gatys.STYLE_LAYER_WEIGHTS.items())
    content = sum(weight * vgg.relative_error(features[layer], photo_features[layer])
                  for layer, weight in gatys.CONTENT_LAYER_WEIGHTS.items())
    structure = vgg.relative_error(vgg.luminance_laplacian(tf.constant(image)),
                                   vgg.luminance_laplacian(tf.constant(photo)))
    return float(gatys.STYLE_WEIGHT * style + gatys.CONTENT_WEIGHT * (content + gatys.STRUCTURE_WEIGHT * structure))


class Recorder(Progress):
    """Keeps every fraction and preview; raises Cancelled at call number ``cancel_at``."""

    def __init__(self, cancel_at=None):
        self.fractions, self.previews, self.cancel_at = [], [], cancel_at

    def report(self, fraction, preview=None):
        self.fractions.append(fraction)
        self.previews.append(preview())
        if len(self.fractions) == self.cancel_at:
            raise Cancelled("cancelled by its owner")


def test_the_objective_falls_to_at_most_half(method, stylized, photo, painting):
    """Thirty iterations at least halve the weighted style and content loss the photo starts from."""
    assert weighted_objective(method, stylized, photo, painting) <= 0.5 * weighted_objective(method, photo, photo,
                                                                                             painting)


def test_the_result_moves_towards_the_paintings_colours(stylized, photo, painting):
    """The result differs from the photo and its mean colour is nearer the painting's."""
    assert np.abs(stylized - photo).mean() > 0.02
    distance = lambda image: np.linalg.norm(image.mean(axis=(0, 1, 2)) - painting.mean(axis=(0, 1, 2)))  # noqa: E731
    assert distance(stylized) < distance(photo)
    assert stylized.dtype == np.float32 and stylized.min() >= 0 and stylized.max() <= 1


@pytest.mark.parametrize("size", [(1, 1), (3, 5), (23, 37), (48, 192)])
def test_the_output_has_the_contents_size(method, painting, size):
    """Tiny, odd and 1:4 images (the last over two scales) come back at exactly their size."""
    content = np.random.default_rng(0).random((1, *size, 3), dtype=np.float32)
    result = method.stylize(content, [(painting, 1.0)], schedule=ONE_STEP_PER_SCALE)
    assert result.shape == (1, *size, 3)


def test_progress_rises_to_one_with_previews_of_the_contents_size(method, painting):
    """Each iteration reports a larger fraction, ending at one, with a preview as large as the content."""
    content = np.random.default_rng(1).random((1, 45, 190, 3), dtype=np.float32)
    recorder = Recorder()
    method.stylize(content, [(painting, 1.0)], schedule=gatys.Schedule((2, 3)), progress=recorder)
    assert len(recorder.fractions) == 5
    assert all(later > earlier for earlier, later in zip(recorder.fractions, recorder.fractions[1:]))
    assert recorder.fractions[-1] == pytest.approx(1.0)
    assert {preview.shape for preview in recorder.previews} == {(1, 45, 190, 3)}


def test_a_cancel_stops_it_at_once(method, photo, painting):
    """Cancelled raised by the third report ends the transfer there: no fourth iteration is reported."""
    recorder = Recorder(cancel_at=3)
    with pytest.raises(Cancelled):
        method.stylize(photo, [(painting, 1.0)], schedule=SHORT, progress=recorder)
    assert len(recorder.fractions) == 3


def test_strength_zero_leaves_the_photo(method, photo, painting):
    """At strength 0 the style has no weight, so the photo comes back unchanged."""
    result = method.stylize(photo, [(painting, 1.0)], strength=0.0, schedule=SHORT)
    np.testing.assert_allclose(result, photo, atol=1 / 255)


def test_half_strength_stays_nearer_the_photo(method, stylized, photo, painting):
    """Half the strength gives a result between the photo and the full-strength one."""
    half = method.stylize(photo, [(painting, 1.0)], strength=0.5, schedule=SHORT)
    assert 0 < np.abs(half - photo).mean() < np.abs(stylized - photo).mean()


def test_a_finer_quality_keeps_as_much_of_the_photo(method):
    """Standard keeps at least 0.9x the edges draft keeps of a drawn bridge under The Scream, and most of them.

    Through the pipeline at 512 px, the size issue 22's targets are set at (the bridge's
    cables are a pixel thin at 256 px, where standard kept 0.89x draft's).
    """
    bridge = scenes.bridge()
    scream = open_image(STYLE_DIR / "the_scream.jpg")
    edges = {}
    for quality in ("draft", "standard"):
        options = pipeline.Options(method="gatys", quality=quality, max_size=512, style_size=256)
        result = pipeline.stylize(bridge, [(scream, 1.0)], options, method).image
        edges[quality] = edge_correlation(image2tensor(bridge, 512)[0], np.asarray(result, np.float32) / 255)
    assert edges["standard"] >= 0.9 * edges["draft"]
    assert edges["standard"] >= 0.6


def test_draft_optimises_at_half_the_size_and_returns_the_contents():
    """Draft's finest scale is half the photo's long side; the result is still the photo's size."""
    plan = gatys.GatysMethod._plan((384, 512), gatys.QUALITIES["draft"])
    assert plan[-1][0] == (192, 256)
    assert [size for size, _, _ in gatys.GatysMethod._plan((384, 512), gatys.QUALITIES["standard"])][-1] == (384, 512)


def test_estimates_grow_with_quality_and_size():
    """Finer presets and larger images are expected to take longer."""
    estimate = gatys.GatysMethod.estimate_seconds
    assert estimate(512, 512, "draft") < estimate(512, 512, "standard") < estimate(512, 512, "fine")
    assert estimate(256, 256, "standard") < estimate(512, 384, "standard") < estimate(1024, 1024, "standard")


def test_an_unknown_quality_is_refused_with_the_known_ones(method, photo, painting):
    """A quality Gatys lacks is a clear error naming the ones it has."""
    with pytest.raises(ValueError, match="draft, standard, fine"):
        method.stylize(photo, [(painting, 1.0)], quality="ultra")


def test_the_page_and_the_form_share_one_estimate():
    """The page's (fixed, per megapixel, fewest) gives what the form's check computes, at every size and quality."""
    offer = next(offer for offer in engines.offers() if offer.name == "gatys")
    for quality, (fixed, per_megapixel, fewest) in offer.estimates.items():
        for width, height in ((160, 120), (512, 384), (1024, 768), (4096, 3072)):
            page = max(fewest, fixed + per_megapixel * width * height / 1e6)
            assert gatys.GatysMethod.estimate_seconds(width, height, quality) == pytest.approx(page, abs=0.05)


def test_no_photo_is_promised_under_a_second():
    """The model never goes below the fastest run measured, so a 160x120 photo is not 'under a second'."""
    for quality in gatys.QUALITIES:
        fixed, _, fewest = gatys.GatysMethod.estimate_fit(quality)
        assert fixed >= 0 and fewest >= 1
        assert gatys.GatysMethod.estimate_seconds(160, 120, quality) >= 1


def test_the_estimate_is_within_five_times_a_measured_run(method, painting):
    """A 160x120 draft takes between a fifth of its estimate and five times it (plus 2 s for a loaded machine)."""
    content = np.random.default_rng(2).random((1, 120, 160, 3), dtype=np.float32)
    method.stylize(content, [(painting, 1.0)], quality="draft")
    started = time.perf_counter()
    method.stylize(content, [(painting, 1.0)], quality="draft")
    seconds = time.perf_counter() - started
    estimate = gatys.GatysMethod.estimate_seconds(160, 120, "draft")
    assert estimate / 5 <= seconds <= 5 * estimate + 2


def test_the_engine_has_a_schedule_for_each_declared_quality():
    """The qualities the page offers (the declaration's) are exactly those the engine can run."""
    from tfapp.methods.gatys import Gatys

    assert tuple(gatys.QUALITIES) == Gatys.capabilities.qualities
