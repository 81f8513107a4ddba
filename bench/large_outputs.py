"""Large outputs with the lite engine: time and peak memory at 1024, 2048 and 4096 px.

For each long side, a fresh process upscales a shared photo to that size and
stylizes it twice through ``pipeline.stylize`` (the first call builds the network
for the tile size, the second finds it built); it reports both times, the tiles,
and its peak resident memory, so one size's memory never counts towards another's.
Target: 4096 px in at most 20 s with at most 3 GB on a 2-core machine.

Then, in this process, a 512 px transfer with a stored (preset-like) style vector
against one that predicts the vector from the uploaded painting.

    python bench/large_outputs.py [--runs 5] [--crop tile-border.png]

``--crop`` saves a 512x512 crop of the 4096 px result centred where four tiles meet.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, LITE_DIR, STYLE, print_host, summary  # noqa: E402

SIZES = (1024, 2048, 4096)
CONTENT_PHOTO = CONTENT / "coffee.png"
PAINTING = STYLE / "starry_night.jpg"
CROP_SIDE = 512


def setup_django():
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    django.setup()


def upscaled_photo(long_side):
    from PIL import Image

    from tfapp.imaging import open_image

    photo = open_image(CONTENT_PHOTO)
    scale = long_side / max(photo.size)
    return photo.resize((round(photo.width * scale), round(photo.height * scale)), Image.Resampling.LANCZOS)


def peak_resident_bytes():
    """This process's own peak resident memory (VmHWM).

    Not ru_maxrss: Linux carries a forked parent's peak into it across exec.
    """
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024


def measure_one_size(long_side, crop_path):
    """Run in a fresh process: two transfers at ``long_side``; print a JSON report."""
    from tfapp import pipeline, tiling
    from tfapp.engines.lite import LiteEngine
    from tfapp.imaging import open_image

    engine = LiteEngine(LITE_DIR)
    photo, painting = upscaled_photo(long_side), open_image(PAINTING)
    options = pipeline.Options(max_size=long_side)
    seconds = []
    for _ in range(2):
        started = time.perf_counter()
        stylized = pipeline.stylize(photo, painting, options, engine)
        seconds.append(time.perf_counter() - started)
    peak = peak_resident_bytes()
    plans = [tiling.plan_axis(side, options.resolved().tile_size) for side in (photo.height, photo.width)]
    if crop_path:
        save_corner_crop(stylized.image, plans, crop_path)
    print(json.dumps({"size": stylized.image.size, "seconds": seconds, "peak_bytes": peak,
                      "model_seconds": stylized.model_seconds,
                      "tiles": [len(plans[0][1]) * len(plans[1][1]), plans[1][0], plans[0][0]]}))


def save_corner_crop(image, plans, path):
    """Save a crop centred on the middle of the first overlap along each axis: a four-tile corner."""
    (tile_height, rows), (tile_width, columns) = plans
    centre_y = (rows[1] + rows[0] + tile_height) // 2 if len(rows) > 1 else image.height // 2
    centre_x = (columns[1] + columns[0] + tile_width) // 2 if len(columns) > 1 else image.width // 2
    half = CROP_SIDE // 2
    image.crop((centre_x - half, centre_y - half, centre_x + half, centre_y + half)).save(path)
    print(f"crop centred on ({centre_x}, {centre_y}) of the {image.width}x{image.height} result", file=sys.stderr)


def run_size_in_subprocess(long_side, crop_path):
    command = [sys.executable, __file__, "--child", str(long_side)]
    if crop_path and long_side == max(SIZES):
        command += ["--crop", str(crop_path)]
    finished = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(finished.stdout.strip().splitlines()[-1])


def preset_against_upload(runs):
    """Median seconds of a 512 px transfer with a stored style vector and with the painting itself."""
    from tfapp import pipeline
    from tfapp.engines.lite import LiteEngine
    from tfapp.imaging import open_image

    engine = LiteEngine(LITE_DIR)
    photo, painting = open_image(CONTENT_PHOTO), open_image(PAINTING)
    options = pipeline.Options(max_size=512)
    vector = pipeline.style_vector_of(painting, options.resolved().style_size, True, engine)
    timings = {"stored style vector": [], "uploaded painting": []}
    for _ in range(runs + 1):
        for label, styles in (("stored style vector", [(vector, 1)]), ("uploaded painting", painting)):
            started = time.perf_counter()
            pipeline.stylize(photo, styles, options, engine)
            timings[label].append(time.perf_counter() - started)
    return {label: seconds[1:] for label, seconds in timings.items()}


def print_table(reports):
    print(f"{'long side':>9} {'result':>10} {'tiles (w x h px)':>18} {'first call':>11} {'second call':>12} "
          f"{'peak RSS':>9}")
    for long_side, report in reports.items():
        count, tile_width, tile_height = report["tiles"]
        first, second = report["seconds"]
        width, height = report["size"]
        print(f"{long_side:>9} {f'{width}x{height}':>10} {f'{count} x {tile_width}x{tile_height}':>18} "
              f"{first:>10.2f}s {second:>11.2f}s {report['peak_bytes'] / 2**30:>7.2f}GB")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--crop", type=Path, help="Where to save a crop across tile borders of the 4096 px result.")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    print_host()
    setup_django()
    if args.child:
        measure_one_size(args.child, args.crop)
        return
    print(f"{CONTENT_PHOTO.name} upscaled, {PAINTING.name} at 256 px, lite engine, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}; each size in a fresh process")
    print_table({long_side: run_size_in_subprocess(long_side, args.crop) for long_side in SIZES})
    print(f"\n512 px transfer, first run discarded (load average {os.getloadavg()[0]:.2f}):")
    for label, seconds in preset_against_upload(args.runs).items():
        print(f"  {label:<20} {summary(seconds)}")


if __name__ == "__main__":
    main()
