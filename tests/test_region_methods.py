"""Regions painted on a photo, honoured by every method: each region in its own style, or the photo kept."""
import numpy as np
import pytest
from django.conf import settings
from PIL import Image, ImageDraw

from tfapp import pipeline
from tfapp.engines.lite import LiteEngine
from tfapp.exceptions import UnsupportedByEngine
from tfapp.imaging import image2tensor, open_image, tensor2image
from tfapp.methods.base import Capabilities, Method
from tfapp.pipeline import Options
from tfapp.regions import Regions

from .conftest import CONTENT_DIR
from .metrics import colour_distance

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
    left, right = sides(image)
    assert colour_distance(left, left_style) < colour_distance(left, right_style)
    assert colour_distance(right, right_style) < colour_distance(right, left_style)


def styled(photo, method, regions, styles=None, **options):
    styles = styles if styles is not None else [(red_stripes(), 1), (blue_dots(), 1)]
    return pipeline.stylize(photo, styles, Options(max_size=SIZE, **options), method, regions=regions).image


def test_magenta_paints_each_region_in_its_own_style(photo, lite):
    """Left red stripes, right blue dots: each half's palette is nearer its own painting's than the other's."""
    image = styled(photo, lite, halves(photo))
    assert image.size == photo.size
    assert_each_side_nearer_its_own(image, red_stripes(), blue_dots())
    swapped = styled(photo, lite, halves(photo, (1, 0)))
    assert_each_side_nearer_its_own(swapped, blue_dots(), red_stripes())


def test_a_kept_region_is_the_photo_away_from_the_feather(photo, lite):
    """With region 1 kept, the right half is the photo itself; the left is painted."""
    image = styled(photo, lite, halves(photo, (0, None)))
    original = tensor2image(image2tensor(photo, SIZE))
    _, right = sides(image)
    _, photo_right = sides(original)
    assert np.abs(right.astype(int) - photo_right.astype(int)).max() <= 1
    left, photo_left = sides(image)[0], sides(original)[0]
    assert np.abs(left.astype(int) - photo_left.astype(int)).mean() > 20


def test_one_region_is_exactly_todays_result(photo, lite):
    """A mask that is all region 0 with the first style gives the result without regions, bit for bit."""
    plain = pipeline.stylize(photo, red_stripes(), Options(max_size=SIZE), lite).image
    whole = Regions(np.zeros((photo.height, photo.width), np.uint8), (0,), 0)
    regioned = styled(photo, lite, whole, styles=[(red_stripes(), 1)])
    assert np.array_equal(np.asarray(plain), np.asarray(regioned))


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


def test_a_region_pointing_at_no_style_is_refused(photo, lite):
    with pytest.raises(ValueError, match="style 3"):
        styled(photo, lite, halves(photo, (0, 2)))
