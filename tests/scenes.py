"""Photos and a painting drawn in code, for pairs beyond the shared images.

Each scene has the kind of structure a style can wash away: the photos have hard
edges at many scales (house fronts and windows, a bridge's towers and cables, lit
windows on a dark tower), the painting has strong, swirling strokes of saturated
colour. All are deterministic: the same pixels on every call.
"""
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = (512, 384)


def _sky(top, bottom, size=SIZE):
    """A vertical gradient from colour ``top`` to ``bottom``, as an RGB image."""
    fraction = np.linspace(0.0, 1.0, size[1])[:, None, None]
    column = (1 - fraction) * np.array(top) + fraction * np.array(bottom)
    return Image.fromarray(np.repeat(column, size[0], axis=1).astype(np.uint8))


def town():
    """A riverside town: a row of gabled houses with windows, their reflections in water."""
    image = _sky((120, 170, 220), (225, 235, 245))
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(1)
    left = 0
    while left < SIZE[0]:
        width = int(rng.integers(50, 90))
        top = int(rng.integers(120, 190))
        wall = tuple(int(c) for c in rng.integers(120, 240, 3))
        draw.rectangle([left, top, left + width, 270], fill=wall, outline=(40, 30, 30), width=2)
        draw.polygon([(left - 4, top), (left + width // 2, top - 45), (left + width + 4, top)], fill=(150, 50, 40))
        for row in range(top + 12, 250, 28):
            for column in range(left + 10, left + width - 14, 22):
                draw.rectangle([column, row, column + 10, row + 14], fill=(40, 50, 70))
        left += width + 4
    water = np.asarray(image)[270 - 114:270][::-1] * 0.6 + np.array([20, 40, 60])
    image.paste(Image.fromarray(water.astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.5)), (0, 270))
    return image


def bridge():
    """A suspension bridge: two towers, a deck and the cables between them, over water."""
    image = _sky((160, 190, 225), (230, 225, 210))
    draw = ImageDraw.Draw(image)
    draw.rectangle([0, 300, SIZE[0], SIZE[1]], fill=(60, 90, 110))
    for tower in (140, 380):
        draw.rectangle([tower - 10, 60, tower + 10, 300], fill=(170, 50, 40))
        for beam in (90, 150, 210):
            draw.rectangle([tower - 14, beam, tower + 14, beam + 6], fill=(120, 35, 30))
    draw.rectangle([0, 250, SIZE[0], 262], fill=(90, 40, 35))
    for start, end in ((-120, 140), (140, 380), (380, 640)):
        points = [(x, 70 + 160 * (1 - ((x - (start + end) / 2) / ((end - start) / 2)) ** 2))
                  for x in range(start, end + 1, 4)]
        draw.line(points, fill=(100, 30, 25), width=3)
        for x, y in points[::4]:
            draw.line([(x, y), (x, 250)], fill=(110, 40, 35), width=1)
    return image


def tower_at_night():
    """A tower at night: a dark sky, a dark tower with rows of lit windows, a few stars."""
    image = _sky((8, 10, 30), (30, 30, 60))
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(2)
    for x, y in rng.integers(0, [SIZE[0], 200], (40, 2)):
        draw.point((int(x), int(y)), fill=(230, 230, 200))
    draw.rectangle([200, 60, 310, SIZE[1]], fill=(25, 25, 35))
    draw.polygon([(200, 60), (255, 10), (310, 60)], fill=(35, 35, 45))
    for row in range(75, SIZE[1] - 10, 18):
        for column in range(210, 300, 16):
            if rng.random() < 0.7:
                draw.rectangle([column, row, column + 8, row + 10], fill=(250, 210, 120))
    draw.rectangle([0, 330, SIZE[0], SIZE[1]], fill=(15, 15, 20))
    return image


def swirls():
    """A painting of swirling, saturated strokes: dense texture, no structure of its own."""
    image = Image.new("RGB", (384, 384), (30, 60, 120))
    draw = ImageDraw.Draw(image)
    rng = np.random.default_rng(3)
    palette = [(240, 190, 40), (230, 90, 30), (40, 120, 200), (20, 40, 90), (250, 240, 200), (60, 150, 80)]
    for _ in range(700):
        x, y = rng.uniform(0, 384, 2)
        radius, start = rng.uniform(8, 40), rng.uniform(0, 2 * math.pi)
        arc = [(x + radius * math.cos(start + t / 10), y + radius * math.sin(start + t / 10)) for t in range(25)]
        draw.line(arc, fill=palette[int(rng.integers(len(palette)))], width=int(rng.integers(2, 6)))
    return image


PHOTOS = {"town": town, "bridge": bridge, "tower_at_night": tower_at_night}
PAINTINGS = {"swirls": swirls}
