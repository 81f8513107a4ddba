"""Regions: does every method paint each region in its own painting, without a seam, and at what cost?

The photo is chelsea.png at ``--side`` px (long side), split two ways into two
regions: left/right halves, and a disc (region 1) in the middle. Region 0 gets
the_scream.jpg, region 1 starry_night.jpg, both seen at 256 px; the feather is
``--feather`` px. For each method (magenta: the lite engine; adain; gatys at its
draft quality, or ``--gatys-quality``), printed side by side:

- **style ratio**: each region's style loss (``vgg.region_style_losses``: the project's
  VGG-19 Gram objective with Gram matrices masked to the region, eroded through the
  network, the feather band left out) against the *other* painting divided by the
  loss against its *own*. Target: at least 1.5 in every region for every method.
  The same ratio for the photo itself (no method) shows where a region starts from,
  and "alone" the ratio each region reaches without regions: the method's plain
  transfer with that region's painting over the whole photo, measured in the region.
- **seam**: the mean colour difference between neighbouring pixels inside the
  feather band, divided by the same measure inside the regions (about 1: no seam;
  well above 1: the boundary shows as an edge of its own). The photo's own figure
  (its detail may lie along the boundary) is printed beside it.
- **time**: CPU seconds (all threads) with the two regions against those with no
  regions (the plain transfer with region 0's painting), the fewest of ``--runs`` runs:
  on a shared host the wall clock mostly measures the other processes. The fast
  methods are timed on the photo enlarged to ``--time-side`` px, where a transfer takes
  long enough to time (at 384 px Magenta's pass is 0.04 s); Gatys, one run each, on the
  measured transfers themselves.
  Target for Magenta: at most 2.2x.

Trained styles are not measured: one network paints one painting, so a second region
can only keep the photo; they are composited by the same code as Magenta.

It also saves ``docs/regions.jpg``: the photo, the disc mask, and each method's result with the disc.

    python bench/regions.py [--side 384] [--feather 16] [--runs 5] [--time-side 1024] [--figure docs/regions.jpg]
                            [--methods magenta adain gatys] [--gatys-quality draft]
"""
import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, MODEL_ENV, ROOT, STYLE, contact_sheet, print_host  # noqa: E402

PAINTINGS = ("the_scream.jpg", "starry_night.jpg")
#: Each region's colour in the figure's mask.
MASK_COLOURS = ((70, 70, 70), (240, 200, 60))


def masks(width, height):
    """``{name: uint8 [H, W] mask}``: left/right halves, and a disc in the middle (region 1)."""
    import numpy as np

    halves = np.zeros((height, width), np.uint8)
    halves[:, width // 2:] = 1
    rows, columns = np.mgrid[:height, :width]
    radius = 0.32 * min(width, height)
    disc = ((rows - height / 2) ** 2 + (columns - width / 2) ** 2 <= radius ** 2).astype(np.uint8)
    return {"halves": halves, "disc": disc}


def measure_shares(regions, size, feather):
    """Each region's hard mask at ``size`` with the feather band left out: ``[R, H, W]``."""
    import numpy as np

    from tfapp.regions import Regions

    soft = Regions(regions.mask, regions.styles, max(feather, 1)).weights(size)
    return (soft > 0.999).astype(np.float32)


def seam_ratio(image, regions):
    """Mean neighbour difference inside the feather band over the same inside the regions."""
    import numpy as np

    pixels = np.asarray(image, np.float32)
    shares = regions.weights(image.size)
    band = (shares.max(axis=0) < 0.98)
    inside = (shares.max(axis=0) > 0.999)
    across = np.abs(np.diff(pixels, axis=1)).mean(axis=2)
    down = np.abs(np.diff(pixels, axis=0)).mean(axis=2)

    def mean_where(where):
        pairs_across = where[:, 1:] & where[:, :-1]
        pairs_down = where[1:] & where[:-1]
        return (across[pairs_across].sum() + down[pairs_down].sum()) / (pairs_across.sum() + pairs_down.sum())

    return float(mean_where(band) / mean_where(inside))


def style_ratios(net, image, shares, paintings):
    """Per region: loss against the other painting / loss against its own."""
    from tfapp.imaging import image2tensor

    from tfapp.engines import vgg

    measured = image2tensor(image, max(image.size))
    own = vgg.region_style_losses(net, measured, shares, paintings)
    other = vgg.region_style_losses(net, measured, shares, paintings[::-1])
    return [o / w for w, o in zip(own, other)]


def timed(call, runs):
    """The fewest CPU seconds (of all the process's threads) ``call`` took in ``runs`` runs, and its last result."""
    seconds, result = [], None
    for _ in range(runs):
        started = time.process_time()
        result = call()
        seconds.append(time.process_time() - started)
    return min(seconds), result


def mask_picture(mask):
    from PIL import Image
    import numpy as np

    return Image.fromarray(np.asarray(MASK_COLOURS, np.uint8)[mask], "RGB")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", type=int, default=384)
    parser.add_argument("--feather", type=int, default=16)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--time-side", type=int, default=1024)
    parser.add_argument("--figure", type=Path, default=ROOT / "docs" / "regions.jpg")
    parser.add_argument("--methods", nargs="+", default=["magenta", "adain", "gatys"])
    parser.add_argument("--gatys-quality", default="draft", choices=("draft", "standard", "fine"))
    arguments = parser.parse_args()
    for key, value in MODEL_ENV.items():
        os.environ.setdefault(key, value)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    import django

    django.setup()
    from PIL import Image

    from tfapp import engines, pipeline
    from tfapp.engines import vgg
    from tfapp.imaging import open_image, style2tensor
    from tfapp.pipeline import Options
    from tfapp.regions import Regions

    print_host()
    photo = open_image(CONTENT / "chelsea.png")
    photo = photo.resize((arguments.side, round(arguments.side * photo.height / photo.width)),
                         Image.Resampling.LANCZOS)
    paintings = [open_image(STYLE / name) for name in PAINTINGS]
    styles = [(painting, 1) for painting in paintings]
    net = vgg.shared_vgg()
    seen = [style2tensor(painting, 256) for painting in paintings]
    cases = [(name, arguments.gatys_quality if name == "gatys" else None) for name in arguments.methods]
    large = photo.resize((arguments.time_side, round(arguments.time_side * photo.height / photo.width)),
                         Image.Resampling.LANCZOS)
    print(f"photo chelsea.png at {photo.width}x{photo.height}; region 0 {PAINTINGS[0]}, region 1 {PAINTINGS[1]} "
          f"(seen at 256 px); feather {arguments.feather} px; CPU times: fewest of {arguments.runs} runs at "
          f"{large.width}x{large.height} (gatys: 1 run, at {photo.width}x{photo.height})")
    shapes = masks(*photo.size)
    all_regions = {name: Regions(mask, (0, 1), arguments.feather) for name, mask in shapes.items()}
    print(f"{'method':<10} {'mask':<7} {'ratio r0':>9} {'ratio r1':>9} {'alone r0':>9} {'alone r1':>9} "
          f"{'seam':>6} {'1 region cpu s':>15} {'2 regions cpu s':>16} {'x':>6}")
    for name, regions in all_regions.items():
        ratios = style_ratios(net, photo, measure_shares(regions, photo.size, arguments.feather), seen)
        print(f"{'(photo)':<10} {name:<7} {ratios[0]:>9.2f} {ratios[1]:>9.2f} {'':>9} {'':>9} "
              f"{seam_ratio(photo, regions):>6.2f}")
    figure = [("photo", photo), ("disc mask", mask_picture(shapes["disc"]))]
    for method_name, quality in cases:
        method = engines.get(method_name)
        options = Options(max_size=max(photo.size), quality=quality)
        slow = method.queue == "slow"
        large_options = Options(max_size=max(large.size), quality=quality)
        if not slow:
            pipeline.stylize(large, styles[:1], large_options, method)  # warm up: first calls trace and compile
            plain_seconds, _ = timed(lambda: pipeline.stylize(large, styles[:1], large_options, method),
                                     arguments.runs)
        plain_run_seconds, plain = timed(lambda: pipeline.stylize(photo, styles[:1], options, method), 1)
        plain_seconds = plain_run_seconds if slow else plain_seconds
        alone = [plain.image, pipeline.stylize(photo, styles[1:], options, method).image]
        for name, regions in all_regions.items():
            seconds, result = timed(lambda: pipeline.stylize(photo, styles, options, method, regions=regions), 1)
            if not slow:
                large_regions = Regions(masks(*large.size)[name], (0, 1), arguments.feather * large.width // photo.width)
                seconds, _ = timed(lambda: pipeline.stylize(large, styles, large_options, method,
                                                            regions=large_regions), arguments.runs)
            ratios = style_ratios(net, result.image, measure_shares(regions, photo.size, arguments.feather), seen)
            seam = seam_ratio(result.image, regions)
            shares = measure_shares(regions, photo.size, arguments.feather)
            reached = [style_ratios(net, image, shares, seen)[region] for region, image in enumerate(alone)]
            print(f"{method_name:<10} {name:<7} {ratios[0]:>9.2f} {ratios[1]:>9.2f} {reached[0]:>9.2f} "
                  f"{reached[1]:>9.2f} {seam:>6.2f} "
                  f"{plain_seconds:>15.2f} {seconds:>16.2f} {seconds / plain_seconds:>6.2f}", flush=True)
            if name == "disc":
                figure.append((engines.label(method_name, quality or ""), result.image))
    contact_sheet(figure, 200, arguments.figure)
    print(f"saved {arguments.figure}")


if __name__ == "__main__":
    main()
