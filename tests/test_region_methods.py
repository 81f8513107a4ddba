"""Regions painted on a photo, honoured by every method: each region in its own style, or the photo kept."""
import numpy as np
import pytest
from django.conf import settings
from PIL import Image, ImageDraw

from tfapp import engines, pipeline
from tfapp.engines import adain, gatys, runtimes, vgg
from tfapp.engines.lite import LiteEngine
from tfapp.exceptions import UnsupportedByEngine
from tfapp.imaging import image2tensor, open_image, style2tensor, tensor2image
from tfapp.exceptions import Cancelled
from tfapp.methods import magenta
from tfapp.methods.adain import Adain
from tfapp.methods.base import COMPOSITE, NATIVE, Capabilities, Method, Progress
from tfapp.methods.gatys import Gatys
from tfapp.methods.trained import TrainedStyle
from tfapp.pipeline import Options
from tfapp.regions import Regions

from .conftest import CONTENT_DIR
from .metrics import colour_distance
from .test_training import publish_untrained

pytestmark = pytest.mark.model

SIZE = 96
#: Columns on each side of the boundary left out of "a region's own pixels" (the feather band and beyond).
BAND = 16


def red_stripes(size=128):
    """A painting of thick red and dark-red vertical stripes."""
    image = Image.new("RGB", (size, size), (230, 30, 20))
    draw = ImageDraw.Draw(image)
    for x in range(0, size, 16):
        draw.rectangle([x, 0, x + 7, size], fill=(120, 0, 0))
    return image


def blue_dots(size=128):
    """A painting of light-blue dots on deep blue."""
    image = Image.new("RGB", (size, size), (20, 40, 200))
    draw = ImageDraw.Draw(image)
    for y in range(4, size, 14):
        for x in range(4, size, 14):
            draw.ellipse([x, y, x + 7, y + 7], fill=(150, 200, 255))
    return image


@pytest.fixture(scope="module")
def photo():
    return open_image(CONTENT_DIR / "chelsea.png").resize((SIZE, SIZE * 2 // 3))


@pytest.fixture(scope="module")
def lite():
    return LiteEngine(settings.NST_LITE_MODEL_DIR)


@pytest.fixture(scope="module")
def adain_method():
    return adain.AdainMethod(settings.NST_ADAIN_MODEL_DIR, runtimes.choose("", "f32", 2))


@pytest.fixture(scope="module")
def gatys_method():
    return gatys.GatysMethod()


@pytest.fixture(scope="module", params=["magenta", "adain", "gatys"])
def method(request, lite, adain_method, gatys_method):
    """Each method that honours regions; Gatys at its draft quality, which is short at this size."""
    return {"magenta": lite, "adain": adain_method, "gatys": gatys_method}[request.param]


@pytest.fixture(scope="module", params=["magenta", "adain"])
def feed_forward(request, lite, adain_method):
    """The feed-forward methods: style vectors, and tiles above the tile size (Gatys sees the whole image)."""
    return {"magenta": lite, "adain": adain_method}[request.param]


def halves(photo, styles=(0, 1), feather=4):
    """The photo's left half is region 0, its right half region 1."""
    mask = np.zeros((photo.height, photo.width), np.uint8)
    mask[:, photo.width // 2:] = 1
    return Regions(mask, styles, feather)


def sides(image):
    """A result's left and right pixels, away from the middle's band."""
    pixels = np.asarray(image)
    middle = pixels.shape[1] // 2
    return pixels[:, :middle - BAND], pixels[:, middle + BAND:]


def assert_each_side_nearer_its_own(image, left_style, right_style):
    """Each half's style loss (VGG-19 Gram matrices masked to it, away from the band) is lower against its own."""
    width, height = image.size
    shares = np.zeros((2, height, width), np.float32)
    shares[0, :, :width // 2 - BAND] = 1
    shares[1, :, width // 2 + BAND:] = 1
    paintings = [style2tensor(painting, 128) for painting in (left_style, right_style)]
    measured = image2tensor(image, max(image.size))
    own = vgg.region_style_losses(vgg.shared_vgg(), measured, shares, paintings)
    other = vgg.region_style_losses(vgg.shared_vgg(), measured, shares, paintings[::-1])
    assert own[0] < other[0] and own[1] < other[1]


def styled(photo, method, regions, styles=None, max_size=SIZE, **options):
    styles = styles if styles is not None else [(red_stripes(), 1), (blue_dots(), 1)]
    if method.capabilities.qualities:
        options.setdefault("quality", "draft")
    return pipeline.stylize(photo, styles, Options(max_size=max_size, **options), method, regions=regions).image


def test_each_region_is_painted_in_its_own_style(photo, method):
    """Left red stripes, right blue dots: each half's textures are nearer its own painting's than the other's.

    The photo is grey, so that its own colours favour neither painting.
    """
    grey = photo.convert("L").convert("RGB")
    image = styled(grey, method, halves(grey))
    assert image.size == photo.size
    assert_each_side_nearer_its_own(image, red_stripes(), blue_dots())
    swapped = styled(grey, method, halves(grey, (1, 0)))
    assert_each_side_nearer_its_own(swapped, blue_dots(), red_stripes())


def test_a_kept_region_is_the_photo_away_from_the_feather(photo, method):
    """With region 1 kept, the right half is the photo itself; the left is painted."""
    image = styled(photo, method, halves(photo, (0, None)))
    original = tensor2image(image2tensor(photo, SIZE))
    _, right = sides(image)
    _, photo_right = sides(original)
    assert np.abs(right.astype(int) - photo_right.astype(int)).max() <= 1
    left, photo_left = sides(image)[0], sides(original)[0]
    assert np.abs(left.astype(int) - photo_left.astype(int)).mean() > 20


def test_one_region_is_exactly_todays_result(photo, lite):
    """With Magenta, a mask that is all region 0 with the first style gives the result without regions, bit for bit."""
    plain = pipeline.stylize(photo, red_stripes(), Options(max_size=SIZE), lite).image
    whole = Regions(np.zeros((photo.height, photo.width), np.uint8), (0,), 0)
    regioned = styled(photo, lite, whole, styles=[(red_stripes(), 1)])
    assert np.array_equal(np.asarray(plain), np.asarray(regioned))


def test_one_region_is_todays_result_within_rounding(photo, adain_method):
    """AdaIN's statistics weighted by a share of 1 everywhere are the plain statistics."""
    plain = np.asarray(pipeline.stylize(photo, red_stripes(), Options(max_size=SIZE), adain_method).image, int)
    whole = Regions(np.zeros((photo.height, photo.width), np.uint8), (0,), 0)
    regioned = np.asarray(styled(photo, adain_method, whole, styles=[(red_stripes(), 1)]), int)
    assert np.abs(plain - regioned).max() <= 2


def test_stored_style_vectors_give_the_same_regions_as_the_paintings(photo, feed_forward):
    """Presets and uploaded styles keep their vectors: with regions they paint as their images do."""
    options = Options(max_size=SIZE)
    vectors = [(pipeline.style_vector_of(painting, options.style_size, None, feed_forward), 1)
               for painting in (red_stripes(), blue_dots())]
    from_vectors = np.asarray(styled(photo, feed_forward, halves(photo), styles=vectors), int)
    from_images = np.asarray(styled(photo, feed_forward, halves(photo)), int)
    assert np.abs(from_vectors - from_images).max() <= 1


@pytest.mark.parametrize("name", ["magenta", "adain", "gatys"])
def test_strength_applies_in_every_region(photo, lite, adain_method, gatys_method, name):
    """At 30 % each half stays nearer the photo than at 100 %."""
    method = {"magenta": lite, "adain": adain_method, "gatys": gatys_method}[name]
    original = np.asarray(tensor2image(image2tensor(photo, SIZE)), int)
    weak, full = (np.asarray(styled(photo, method, halves(photo), strength=strength), int) for strength in (0.3, 1.0))
    for side in (0, 1):
        assert (np.abs(sides(weak)[side] - sides(original)[side]).mean()
                < np.abs(sides(full)[side] - sides(original)[side]).mean())


def test_gatys_with_one_region_is_todays_result_within_rounding(photo, gatys_method):
    """One region's masked Gram matrices over the whole photo are the plain ones.

    Up to float rounding, which the optimisation amplifies at the full style weight:
    measured 6 levels at most, 0.36 on average.
    """
    options = Options(max_size=SIZE, quality="draft")
    plain = np.asarray(pipeline.stylize(photo, red_stripes(), options, gatys_method).image, int)
    whole = Regions(np.zeros((photo.height, photo.width), np.uint8), (0,), 0)
    regioned = np.asarray(styled(photo, gatys_method, whole, styles=[(red_stripes(), 1)]), int)
    assert np.abs(plain - regioned).max() <= 8
    assert np.abs(plain - regioned).mean() <= 0.5


class Recorder(Progress):
    def __init__(self, stop_after=None):
        self.fractions, self.previews, self.stop_after = [], 0, stop_after

    def report(self, fraction, preview=None):
        self.fractions.append(fraction)
        if preview is not None:
            self.last_preview = preview()[0]
            self.previews += 1
        if self.stop_after is not None and len(self.fractions) >= self.stop_after:
            raise Cancelled("stopped")


def test_gatys_with_regions_reports_progress_and_previews_and_stops_when_cancelled(photo, gatys_method):
    recorder = Recorder()
    pipeline.stylize(photo, [(red_stripes(), 1), (blue_dots(), 1)], Options(max_size=SIZE, quality="draft"),
                     gatys_method, progress=recorder, regions=halves(photo))
    assert recorder.fractions == sorted(recorder.fractions) and recorder.fractions[-1] == pytest.approx(1.0)
    assert recorder.previews == len(recorder.fractions)
    kept = Recorder()
    pipeline.stylize(photo, [(red_stripes(), 1)], Options(max_size=SIZE, quality="draft"), gatys_method,
                     progress=kept, regions=halves(photo, (0, None)))
    original = np.asarray(image2tensor(photo, SIZE))[0]
    # A preview shows the photo in the kept half, as the result will.
    assert np.abs(sides(kept.last_preview)[1] - sides(original)[1]).max() < 1e-5
    stopping = Recorder(stop_after=3)
    with pytest.raises(Cancelled):
        pipeline.stylize(photo, [(red_stripes(), 1), (blue_dots(), 1)], Options(max_size=SIZE, quality="draft"),
                         gatys_method, progress=stopping, regions=halves(photo))
    assert len(stopping.fractions) == 3


def test_tiled_results_keep_the_regions(photo, feed_forward):
    """Above the tile size each region still takes its own style, and tiles agree with one piece."""
    large = photo.convert("L").convert("RGB").resize((240, 160))
    whole = styled(large, feed_forward, halves(large), max_size=240)
    tiled = styled(large, feed_forward, halves(large), max_size=240, tile_size=128)
    assert_each_side_nearer_its_own(tiled, red_stripes(), blue_dots())
    assert np.abs(np.asarray(tiled, int) - np.asarray(whole, int)).mean() < 12


def test_kept_colours_with_regions(photo, method):
    """Keeping the photo's colours still applies to painted regions, and a kept region stays the photo."""
    image = styled(photo, method, halves(photo, (1, None)), preserve_colours=True)
    original = np.asarray(tensor2image(image2tensor(photo, SIZE)), int)
    left, right = (np.asarray(side, int) for side in sides(image))
    photo_left, photo_right = sides(original)
    assert np.abs(right - photo_right).max() <= 1
    blue = styled(photo, method, halves(photo, (1, None)))
    # The painted half keeps the photo's palette rather than the blue dots'.
    assert colour_distance(left, photo_left) < colour_distance(sides(blue)[0], photo_left) / 2


def test_a_trained_style_paints_its_region_and_the_photo_stays_in_the_other(photo, fresh_engine):
    """A trained style's one painting goes where the mask says: its own result there, the photo elsewhere."""
    publish_untrained("scream", steps=3)
    method = engines.get("trained:scream")
    painting = open_image(method.painting)
    plain = np.asarray(pipeline.stylize(photo, painting, Options(max_size=SIZE), method).image, int)
    image = np.asarray(styled(photo, method, halves(photo, (0, None)), styles=[(painting, 1)]), int)
    original = np.asarray(tensor2image(image2tensor(photo, SIZE)), int)
    assert np.abs(sides(image)[0] - sides(plain)[0]).max() <= 1
    assert np.abs(sides(image)[1] - sides(original)[1]).max() <= 1
    assert np.abs(sides(plain)[1] - sides(original)[1]).mean() > 10


class NoRegions(Method):
    """A declaration without regions, as a method that cannot honour them declares itself."""

    name = "no-regions"
    label = "No regions"
    capabilities = Capabilities(blending=True)
    reasons = {"regions": "This method sees the whole photo at once."}


def test_a_method_without_regions_refuses_them_with_its_reason(photo):
    with pytest.raises(UnsupportedByEngine) as raised:
        styled(photo, NoRegions(), halves(photo))
    assert raised.value.control == "regions"
    assert str(raised.value) == "This method sees the whole photo at once."


@pytest.mark.parametrize("declaration", [magenta.Lite, magenta.Hub, Adain, Gatys, TrainedStyle])
def test_every_method_declares_regions_and_several_styles_there_are_no_blend(declaration):
    """Hub and trained styles cannot blend, yet take one style per region: regions are not a blend."""
    assert declaration.capabilities.regions and declaration.regions_by in (COMPOSITE, NATIVE)
    pipeline.check_controls(declaration, 2, Options(), regions=True)
    if not declaration.capabilities.blending:
        with pytest.raises(UnsupportedByEngine):
            pipeline.check_controls(declaration, 2, Options())


def test_a_region_pointing_at_no_style_is_refused(photo, lite):
    with pytest.raises(ValueError, match="style 3"):
        styled(photo, lite, halves(photo, (0, 2)))
