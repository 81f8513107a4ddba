"""Stylizing large images in overlapping, blended tiles (tfapp.tiling and the lite engine's use of it)."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from django.conf import settings
from PIL import Image

from tfapp import pipeline, tiling
from tfapp.engines.lite import LiteEngine
from tfapp.imaging import image2tensor, open_image, tensor2image

from .conftest import CONTENT_DIR, STYLE_DIR
from .metrics import seam_ratio

pytestmark = pytest.mark.model

# Peak resident memory allowed for a whole 4096 px transfer in a fresh process:
# measured 2.0 GB (1.4 GB of it the network's activations for one 876x956 tile).
PEAK_MEMORY_LIMIT_BYTES = 3 * 1024**3


@pytest.fixture(scope="module")
def engine():
    return LiteEngine(settings.NST_LITE_MODEL_DIR)


def photo_at(width, name="coffee.png"):
    """A shared photo resized (up or down) to ``width`` pixels wide, as a [1, H, W, 3] tensor."""
    photo = open_image(CONTENT_DIR / name)
    return image2tensor(photo.resize((width, round(photo.height * width / photo.width)), Image.Resampling.LANCZOS))


@pytest.mark.parametrize("length, max_tile, overlap", [
    (1025, 1024, 64), (2731, 1024, 64), (4096, 1024, 64), (5000, 768, 64), (300, 128, 32), (999, 200, 90),
])
def test_tiles_cover_the_axis_with_one_size_and_enough_overlap(length, max_tile, overlap):
    """Tiles are one length within the limit, start aligned, cover the axis and share at least the overlap."""
    tile, starts = tiling.plan_axis(length, max_tile, overlap)
    shared = [previous + tile - start for previous, start in zip(starts, starts[1:])]
    assert tile <= max_tile and tile % tiling.ALIGNMENT == 0
    assert starts[0] == 0 and starts[-1] + tile == length
    assert all(start % tiling.ALIGNMENT == 0 for start in starts[:-1])
    assert min(shared) >= overlap


@pytest.mark.parametrize("length, max_tile, overlap", [(1025, 1024, 64), (2731, 1024, 64), (5000, 768, 64)])
def test_one_tile_fewer_could_not_cover_the_axis(length, max_tile, overlap):
    """The tile count is the least with which the longest tiles, sharing overlap + ALIGNMENT pixels, cover the axis."""
    _, starts = tiling.plan_axis(length, max_tile, overlap)
    fewer = len(starts) - 1
    longest = max_tile - max_tile % tiling.ALIGNMENT
    assert fewer * longest - (fewer - 1) * (overlap + tiling.ALIGNMENT) < length


def test_a_short_axis_is_one_tile():
    """An axis no longer than the tile limit is left whole."""
    assert tiling.plan_axis(700, 1024, 64) == (700, (0,))


def test_a_tile_no_longer_than_its_overlap_is_refused():
    """Tiles that could not advance past their overlap are a ValueError."""
    with pytest.raises(ValueError, match="cannot overlap"):
        tiling.plan_axis(1000, 60, 64)


def test_blending_identical_tiles_gives_back_the_image():
    """The blending weights sum to one everywhere: tiles that change nothing reassemble the input."""
    content = np.random.default_rng(5).random((1, 300, 470, 3), dtype=np.float32)
    shapes = set()

    def unchanged(tile):
        shapes.add(tile.shape)
        return tile.copy()

    result = tiling.stylize_in_tiles(content, unchanged, max_tile=128, overlap=32)
    assert np.allclose(result, content, atol=1e-6)
    assert shapes == {(1, 124, 124, 3)}


def test_large_content_is_tiled_to_its_own_size(engine):
    """Content past the tile size comes back at exactly its size, in [0, 1]."""
    content = photo_at(1100)
    vector = pipeline.style_vector_of(open_image(STYLE_DIR / "shipwreck.jpg"), 256, True, engine)
    output = engine.transfer(content, vector, tile_size=512)
    assert output.shape == content.shape
    assert 0.0 <= output.min() and output.max() <= 1.0


@pytest.mark.parametrize("name", ["starry_night.jpg", "the_scream.jpg"])
def test_tile_borders_show_no_seam(engine, name):
    """Across tile borders the picture changes as much as the untiled result does there (seam ratio < 1.1, within 10 %),
    while cutting without overlap makes a seam the metric sees (ratio > 2.5)."""
    content = photo_at(1024)
    height, width = content.shape[1:3]
    vector = pipeline.style_vector_of(open_image(STYLE_DIR / name), 256, True, engine)
    tiled = tensor2image(engine.transfer(content, vector, tile_size=512))
    whole = tensor2image(engine.transfer(content, vector, tile_size=1024))
    rows, columns = tiling.tile_borders(height, 512), tiling.tile_borders(width, 512)
    cut = width // 2
    halves = [engine.transfer(part, vector, tile_size=1024) for part in (content[:, :, :cut], content[:, :, cut:])]
    assert seam_ratio(tiled, rows, columns) < 1.1
    assert seam_ratio(tiled, rows, columns) < 1.1 * seam_ratio(whole, rows, columns)
    assert seam_ratio(tensor2image(np.concatenate(halves, axis=2)), [], [cut]) > 2.5


LARGE_TRANSFER = """
import json, django
django.setup()
from django.conf import settings
from PIL import Image
from tfapp import pipeline, tiling
from tfapp.engines.lite import LiteEngine
from tfapp.imaging import open_image
from tests.metrics import seam_ratio

photo = open_image(settings.SHARED_DIR / "images" / "content" / "coffee.png")
photo = photo.resize((4096, round(photo.height * 4096 / photo.width)), Image.Resampling.LANCZOS)
painting = open_image(settings.SHARED_DIR / "images" / "style" / "starry_night.jpg")
engine = LiteEngine(settings.NST_LITE_MODEL_DIR)
image = pipeline.stylize(photo, painting, pipeline.Options(max_size=4096), engine).image
# VmHWM, not ru_maxrss: Linux carries the forked parent's peak (the whole test run) into
# ru_maxrss across exec, while VmHWM belongs to this process's own memory.
status = open("/proc/self/status").read()
peak = int(status.split("VmHWM:")[1].split()[0]) * 1024
rows, columns = tiling.tile_borders(image.height), tiling.tile_borders(image.width)
print(json.dumps({"size": image.size, "peak_bytes": peak, "seam_ratio": seam_ratio(image, rows, columns)}))
"""


def test_a_4096_pixel_transfer_fits_in_bounded_memory():
    """A 4096x2731 result, tiled at the default size, peaks under 3 GB resident in a fresh process, seam ratio < 1.1."""
    environment = dict(os.environ, DJANGO_SETTINGS_MODULE="nst_site.settings.test")
    finished = subprocess.run([sys.executable, "-c", LARGE_TRANSFER], cwd=settings.BASE_DIR, env=environment,
                              capture_output=True, text=True, check=True)
    report = json.loads(finished.stdout.strip().splitlines()[-1])
    assert report["size"] == [4096, 2731]
    assert report["peak_bytes"] < PEAK_MEMORY_LIMIT_BYTES
    assert report["seam_ratio"] < 1.1
