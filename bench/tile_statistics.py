"""How far a tiled result is from the same content in one piece, with and without shared statistics.

Tiles are normalised with the instance-norm statistics of the whole image seen at
1024 px. They run on OpenVINO, which can be fed those statistics, also when the
engine's runtime is LiteRT (``NST_RUNTIME=litert``); only without OpenVINO does each
tile use its own, shown here as "own stats". For coffee.png and starry_night.jpg,
prints the mean and max absolute difference (levels of 255) between the tiled and
the one-piece result:

1. at 1024x1024, tiled at 512 px (the statistics image is the content itself);
2. at 4096x2731, tiled at the default 1024 px, against OpenVINO's one-piece result
   (about 2.5 GB resident; LiteRT would need about 19 GB in one piece).

    python bench/tile_statistics.py
"""
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from _common import CONTENT, LITE_DIR, STYLE, print_host  # noqa: E402


def difference(first, second):
    levels = np.abs(first - second) * 255
    return f"mean {levels.mean():6.2f}  max {levels.max():6.1f}"


def main():
    print_host()
    import django
    from PIL import Image

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    django.setup()
    from tfapp.engines import runtimes
    from tfapp.engines.lite import LiteEngine
    from tfapp.imaging import image2tensor, style2tensor

    by_name = {name: LiteEngine(LITE_DIR, runtimes.choose(name, "f32", 2)) for name in ("openvino", "litert")}
    vector = by_name["litert"].style_vector(style2tensor(Image.open(STYLE / "starry_night.jpg"), 256))
    photo = Image.open(CONTENT / "coffee.png").convert("RGB")
    content = image2tensor(photo.resize((1024, 1024), Image.Resampling.LANCZOS))
    print("1024x1024, tiled at 512 px vs. one piece (levels of 255):")
    for name, engine in by_name.items():
        print(f"  {name:<9} {difference(engine.transfer(content, vector, 512), engine.transfer(content, vector))}")
    own = own_statistics(by_name["litert"], content, vector, 512)
    print(f"  {'own stats':<9} {difference(own, by_name['litert'].transfer(content, vector))}")
    content = image2tensor(photo.resize((4096, 2731), Image.Resampling.LANCZOS), 4096)
    started = time.perf_counter()
    whole = by_name["openvino"].transfer(content, vector, 4096)
    print(f"4096x2731 tiled at 1024 px vs. OpenVINO in one piece ({time.perf_counter() - started:.1f} s):")
    for name, engine in by_name.items():
        print(f"  {name:<9} {difference(engine.transfer(content, vector), whole)}")
    print(f"  {'own stats':<9} {difference(own_statistics(by_name['litert'], content, vector, 1024), whole)}")


def own_statistics(engine, content, vector, tile_size):
    """Tiles each normalised by its own statistics: what LiteRT gives where OpenVINO is not installed."""
    from tfapp import tiling

    return tiling.stylize_in_tiles(content, lambda tile: engine.transfer(tile, vector, tile_size), tile_size)


if __name__ == "__main__":
    main()
