"""Stylize an image too large for one pass of the network as overlapping tiles.

The transfer network's activations take about 1.7 kB per content pixel on LiteRT
(measured: 1.7 GB at 1024x1024, 0.43 GB at 512x512; OpenVINO about 0.3 kB), so a
4096x2730 photo in one pass would need about 19 GB. Cutting it into tiles bounds that by the tile size instead.

All tiles share one style vector and one size, so the engine builds a single
interpreter for them. Neighbours overlap, and each tile's result is weighted by a
raised-cosine ramp across every overlap, so the weights of two neighbours sum to one
there: this hides the reflection padding at a tile's edge. A tile normalising its
activations with its own instance-norm statistics would also differ from its
neighbours by 10-20 levels of mean colour, so where the runtime allows (OpenVINO)
the engine computes the statistics once, on the whole image :func:`downscaled` to
:data:`STATISTICS_SIZE`, and runs every tile with them.
Results are accumulated into one output array as tiles finish; no more than one
tile's result is held at a time.
"""
import math

import numpy as np
from PIL import Image

#: Longest tile side, in pixels. Time per pixel is flat from 512 to 1024 px tiles
#: (about 0.9 us per pixel on two cores), while memory grows with the tile, so this
#: trades ~1.7 GB of activations for the fewest overlapping pixels computed twice.
DEFAULT_TILE_SIZE = 1024

#: Long side of the downscaled whole image whose instance-norm statistics every tile
#: shares (where the runtime allows it): the largest image the network runs in one piece.
STATISTICS_SIZE = DEFAULT_TILE_SIZE

#: Least number of pixels that neighbouring tiles share: the width of the blending ramps.
DEFAULT_OVERLAP = 64

# Tile sides and starts are multiples of this, so the network's two stride-2 steps
# sample the same pixel grid in every tile; only the last tile of a row or column,
# which ends flush with the image's edge, may be off that grid.
ALIGNMENT = 4


def plan_axis(length, max_tile=DEFAULT_TILE_SIZE, overlap=DEFAULT_OVERLAP):
    """How to cut one axis of ``length`` pixels: ``(tile_length, starts)``.

    A length up to ``max_tile`` is one tile: ``(length, (0,))``. Otherwise all
    tiles have one length, a multiple of :data:`ALIGNMENT` no longer than
    ``max_tile``, and neighbours share at least ``overlap`` pixels. Their number is
    the fewest that could cover the axis sharing ``overlap + ALIGNMENT`` pixels (the
    margin pays for aligning the starts), and their length the shortest that then
    covers it, so the fewest pixels are computed twice. The first tile starts at 0,
    the last ends at ``length``, the others are spread evenly between at multiples
    of :data:`ALIGNMENT`. Raises ValueError when ``max_tile`` leaves no room to advance.
    """
    if length <= max_tile:
        return length, (0,)
    usable_tile = max_tile - max_tile % ALIGNMENT
    # Flooring the starts to the alignment may lose up to ALIGNMENT - 1 pixels of overlap.
    planned_overlap = overlap + ALIGNMENT
    if usable_tile <= planned_overlap:
        raise ValueError(f"Tiles of {max_tile} px cannot overlap by {overlap} px and still advance.")
    count = math.ceil((length - planned_overlap) / (usable_tile - planned_overlap))
    tile = _round_up(math.ceil((length + (count - 1) * planned_overlap) / count), ALIGNMENT)
    stride = (length - tile) / (count - 1)
    starts = [_round_down(index * stride, ALIGNMENT) for index in range(count - 1)]
    return tile, tuple(starts) + (length - tile,)


def _round_up(value, multiple):
    return -(-value // multiple) * multiple


def _round_down(value, multiple):
    return int(value) // multiple * multiple


def axis_weights(tile, starts):
    """Blending weight of each tile along one axis: ``float32`` array ``[len(starts), tile]``.

    Each tile's weight is 1, except that it rises from near 0 to near 1 across its
    overlap with the previous tile and falls across its overlap with the next, along
    ``sin^2`` / ``cos^2`` ramps, which sum to exactly 1 where two tiles meet.
    """
    weights = np.ones((len(starts), tile), np.float32)
    for index in range(1, len(starts)):
        shared = starts[index - 1] + tile - starts[index]
        rising = np.sin(0.5 * np.pi * (np.arange(shared) + 0.5) / shared) ** 2
        weights[index, :shared] *= rising
        weights[index - 1, tile - shared:] *= rising[::-1]
    return weights


def axis_totals(length, tile, starts, weights):
    """Sum of all tiles' weights at each of the ``length`` pixels of an axis (``float32``)."""
    totals = np.zeros(length, np.float32)
    for start, weight in zip(starts, weights):
        totals[start:start + tile] += weight
    return totals


def stylize_in_tiles(content, stylize_tile, max_tile=DEFAULT_TILE_SIZE, overlap=DEFAULT_OVERLAP, alongside=None):
    """Stylize ``content`` tile by tile and blend the tiles into one image.

    Args:
        content: ``float32`` array ``[1, H, W, 3]`` in ``[0, 1]``.
        stylize_tile: called with each tile, a ``[1, h, w, 3]`` view into ``content``
            (the same ``h`` and ``w`` for every tile), returns ``[1, h, w, 3]`` in ``[0, 1]``.
        max_tile: longest tile side, in pixels.
        overlap: least number of pixels neighbouring tiles share.
        alongside: an array ``[N, H, W]`` (the regions' shares) cut like ``content``; with
            it, ``stylize_tile`` is called with each tile and its ``[N, h, w]`` piece.

    Returns:
        ``float32`` array ``[1, H, W, 3]`` in ``[0, 1]``. Besides it, memory holds one
        tile's result and its weights at a time.
    """
    height, width = content.shape[1:3]
    tile_height, row_starts = plan_axis(height, max_tile, overlap)
    tile_width, column_starts = plan_axis(width, max_tile, overlap)
    row_weights = axis_weights(tile_height, row_starts)
    column_weights = axis_weights(tile_width, column_starts)
    output = np.zeros(content.shape, np.float32)
    for top, row_weight in zip(row_starts, row_weights):
        for left, column_weight in zip(column_starts, column_weights):
            region = (slice(None), slice(top, top + tile_height), slice(left, left + tile_width))
            weight = np.outer(row_weight, column_weight)[None, :, :, None]
            extra = () if alongside is None else (alongside[(slice(None),) + region[1:]],)
            output[region] += stylize_tile(content[region], *extra) * weight
    # The weight of a pixel is a product of one row and one column weight, so the
    # total is the product of the per-axis totals: two vectors, not an image.
    output /= axis_totals(height, tile_height, row_starts, row_weights)[None, :, None, None]
    output /= axis_totals(width, tile_width, column_starts, column_weights)[None, None, :, None]
    return output


def downscaled(content, max_side):
    """``content`` (``float32`` ``[1, H, W, 3]``) with its long side at most ``max_side``, by area averaging.

    Content that already fits is returned as it is; each side stays at least 1 pixel.
    """
    height, width = content.shape[1:3]
    scale = max_side / max(height, width)
    if scale >= 1:
        return content
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    channels = [
        np.asarray(Image.fromarray(np.ascontiguousarray(content[0, :, :, channel])).resize(size, Image.Resampling.BOX))
        for channel in range(content.shape[3])
    ]
    return np.stack(channels, axis=-1)[None]


def tile_borders(length, max_tile=DEFAULT_TILE_SIZE, overlap=DEFAULT_OVERLAP):
    """Pixel positions along an axis where one tile's region begins or ends inside the image.

    These are where a seam would show if the blending failed; the middle of each
    overlap is included, where two neighbours weigh the same.
    """
    tile, starts = plan_axis(length, max_tile, overlap)
    borders = set()
    for previous, start in zip(starts, starts[1:]):
        end = previous + tile
        borders.update((start, (start + end) // 2, end))
    return sorted(borders)
