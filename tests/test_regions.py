"""Reading a painted mask and its region styles (tfapp.regions)."""
import io

import numpy as np
import pytest
from PIL import Image

from tfapp import regions


def png(array, mode="L"):
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8), mode=mode).save(buffer, format="PNG")
    return buffer.getvalue()


def halves(width=40, height=20):
    mask = np.zeros((height, width), np.uint8)
    mask[:, width // 2:] = 1
    return mask


def test_a_mask_the_photos_size_gives_each_pixel_its_region():
    """Region k takes style k by default, and the mask is kept exactly."""
    built = regions.build(png(halves()), (40, 20), style_count=2)
    assert built.styles == (0, 1)
    assert (built.mask == halves()).all()


def test_a_mask_of_the_same_aspect_ratio_is_resized_with_nearest_neighbour():
    """A half-size mask becomes the photo's size without new values at the edges."""
    built = regions.build(png(halves(20, 10)), (40, 20), style_count=2)
    assert built.mask.shape == (20, 40)
    assert set(np.unique(built.mask)) == {0, 1}
    assert (built.mask == halves()).all()


@pytest.mark.parametrize(("data", "size", "code"), [
    (b"not a png", (40, 20), "mask_not_image"),
    (png(halves(40, 40)), (40, 20), "mask_aspect"),
    (png(halves() * 4), (40, 20), "mask_values"),
    (png(np.zeros((20, 40, 3)), mode="RGB"), (40, 20), "mask_channels"),
])
def test_an_unusable_mask_is_refused_with_its_code(data, size, code):
    """Each reason has its own code, for the form and the API."""
    with pytest.raises(regions.RegionError) as raised:
        regions.build(data, size, style_count=2)
    assert raised.value.code == code


def test_more_regions_than_styles_is_refused():
    """Three regions with two styles and no region styles cannot be honoured."""
    mask = halves()
    mask[:5] = 2
    with pytest.raises(regions.RegionError) as raised:
        regions.build(png(mask), (40, 20), style_count=2)
    assert raised.value.code == "too_many_regions"


def test_region_styles_pick_a_style_or_keep_the_photo():
    """'2,keep' puts the second style in region 0 and leaves region 1 as the photo."""
    assert regions.build(png(halves()), (40, 20), 2, region_styles="2,keep").styles == (1, None)
    with pytest.raises(regions.RegionError) as raised:
        regions.build(png(halves()), (40, 20), 2, region_styles="3,1")
    assert raised.value.code == "region_style_missing"


def test_feathered_weights_sum_to_one_and_soften_only_the_edge():
    """Shares are hard far from the boundary and mixed across it."""
    built = regions.build(png(halves(80, 20)), (80, 20), 2, feather=8)
    weights = built.weights((80, 20))
    assert weights.shape == (2, 20, 80)
    np.testing.assert_allclose(weights.sum(axis=0), 1, atol=1e-5)
    assert weights[0, 10, 2] > 0.99 and weights[1, 10, 77] > 0.99
    assert 0.3 < weights[0, 10, 40] < 0.7
    hard = regions.build(png(halves(80, 20)), (80, 20), 2).weights((80, 20))
    assert set(np.unique(hard)) == {0.0, 1.0}


def test_a_feather_out_of_range_is_refused():
    """Negative, huge or non-numeric feathers have the code 'feather'."""
    for feather in (-1, regions.MAX_FEATHER + 1, "soft"):
        with pytest.raises(regions.RegionError) as raised:
            regions.build(png(halves()), (40, 20), 2, feather=feather)
        assert raised.value.code == "feather"
