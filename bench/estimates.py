"""Gatys's time model: measure each quality at several sizes and fit the estimate the site shows.

For each quality and each long side (4:3 results of astronaut.png, starry_night.jpg
seen at 256 px) one transfer is timed in this process, after one untimed transfer
that traces the graph. Per quality it fits ``seconds = fixed + per_megapixel * MP``
by least squares (the intercept held at zero or above, so no small photo is promised
"under a second"), and prints the ``ESTIMATES`` entry for ``tfapp/methods/gatys.py``:
``(fixed, per_megapixel, fewest)``, ``fewest`` being the fastest run measured. It then
prints each measured time beside the model's, so the fit can be judged.

    python bench/estimates.py [--qualities draft standard fine] [--sides 128 256 512 768]
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, STYLE, print_host  # noqa: E402
from quality import setup_django  # noqa: E402


def measure(qualities, sides):
    """``{quality: [(width, height, seconds)]}``, one timed transfer per size."""
    from PIL import Image

    from tfapp.engines import gatys
    from tfapp.imaging import image2tensor, style2tensor

    method = gatys.GatysMethod()
    painting = style2tensor(Image.open(STYLE / "starry_night.jpg"), 256)
    photo = Image.open(CONTENT / "astronaut.png").convert("RGB")
    method.stylize(image2tensor(photo.resize((64, 48))), [(painting, 1.0)], quality="draft")
    times = {}
    for quality in qualities:
        times[quality] = []
        for side in sides:
            content = image2tensor(photo.resize((side, side * 3 // 4), Image.Resampling.LANCZOS))
            started = time.perf_counter()
            method.stylize(content, [(painting, 1.0)], quality=quality)
            seconds = time.perf_counter() - started
            times[quality].append((side, side * 3 // 4, seconds))
            print(f"  {quality:<9} {side}x{side * 3 // 4}: {seconds:.1f} s", flush=True)
    return times


def fit(runs):
    """``(fixed, per_megapixel, fewest)``: least squares with a non-negative intercept, floored at the fastest run."""
    import numpy as np

    megapixels = np.array([width * height / 1e6 for width, height, _ in runs])
    seconds = np.array([run[2] for run in runs])
    per_megapixel, fixed = np.polyfit(megapixels, seconds, 1)
    if fixed < 0:
        fixed, per_megapixel = 0.0, float(megapixels @ seconds / (megapixels @ megapixels))
    return round(float(fixed), 2), round(float(per_megapixel), 1), round(float(seconds.min()), 1)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qualities", nargs="+", default=["draft", "standard", "fine"])
    parser.add_argument("--sides", nargs="+", type=int, default=[128, 256, 512, 768])
    arguments = parser.parse_args()
    setup_django()
    print_host()
    times = measure(arguments.qualities, arguments.sides)
    print(f"load average {os.getloadavg()}\n\nESTIMATES = {{")
    models = {quality: fit(runs) for quality, runs in times.items()}
    for quality, model in models.items():
        print(f'    "{quality}": {model},')
    print("}\n\nmeasured vs model:")
    for quality, runs in times.items():
        fixed, per_megapixel, fewest = models[quality]
        for width, height, seconds in runs:
            model = max(fewest, fixed + per_megapixel * width * height / 1e6)
            print(f"  {quality:<9} {width}x{height}: measured {seconds:6.1f} s, model {model:6.1f} s "
                  f"({model / seconds:.2f}x)")


if __name__ == "__main__":
    main()
