"""The three methods side by side, on numbers: time, memory and the Gatys objective of each result.

For every pair of a shared photo and a shared painting (512 px long side, the painting
seen at 256 px) each method runs in a process of its own, so its peak memory is its
own (fast methods are timed warm, after one transfer of the first pair); then every result is measured with the same VGG-19 (tfapp.engines.vgg.objective):
the style loss (Gram matrices, relu1_1..relu4_1) against the painting and the content
loss (relu4_1) against the photo. Lower is closer. It then checks the targets: Gatys's
style loss below both others' for each painting, with content loss at most 1.5x Magenta's.

    python bench/methods.py [--photos astronaut.png] [--paintings starry_night.jpg ...]
        [--methods magenta adain gatys] [--quality standard] [--figure docs/methods.jpg]
    python bench/methods.py --memory        # one process holding all three methods
    python bench/methods.py --contention    # a Magenta transfer while a Gatys job runs, through `serve`
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (CONTENT, MODEL_ENV, ROOT, STYLE, contact_sheet, print_host, request, start_server,  # noqa: E402
                     upload_transfer)

METHODS = ("magenta", "adain", "gatys")
PAINTINGS = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg", "woman_with_hat.jpg")
PHOTOS = ("astronaut.png", "chelsea.png", "coffee.png")
STYLE_SIZE = 256
LABELS = {"magenta": "Magenta", "adain": "AdaIN", "gatys": "Gatys (standard)"}


def setup_django():
    os.environ.update(MODEL_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def peak_bytes():
    """This process's own peak resident memory (VmHWM; ru_maxrss would include a forked parent's)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) * 1024


def resident_bytes():
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) * 1024


def run_method(method, quality, size, pairs, outdir):
    """In a child process: stylize every pair with one method; print times and peak memory as JSON."""
    setup_django()
    from tfapp import engines, pipeline
    from tfapp.imaging import open_image

    loaded = engines.get(method)
    options = pipeline.Options(method=method, quality=quality if loaded.capabilities.qualities else None,
                               max_size=size, style_size=STYLE_SIZE)
    times = {}
    if loaded.queue == "default":
        # Fast methods build their network per size once: time them warm, as a worker runs them.
        pipeline.stylize(open_image(CONTENT / pairs[0][0]), open_image(STYLE / pairs[0][1]), options, loaded)
    for photo, painting in pairs:
        started = time.perf_counter()
        stylized = pipeline.stylize(open_image(CONTENT / photo), open_image(STYLE / painting), options, loaded)
        times[f"{photo}|{painting}"] = {"total": time.perf_counter() - started, "model": stylized.model_seconds}
        stylized.image.save(Path(outdir) / f"{method}-{Path(photo).stem}-{Path(painting).stem}.png")
    print(json.dumps({"times": times, "peak_bytes": peak_bytes()}))


def measure(outdir, methods, pairs, size):
    """The objective of every result: {(method, photo, painting): (style loss, content loss)}."""
    setup_django()
    import tensorflow as tf

    from tfapp.engines import vgg
    from tfapp.imaging import image2tensor, open_image, style2tensor

    network = vgg.shared_vgg()
    losses = {}
    for photo, painting in pairs:
        content = tf.constant(image2tensor(open_image(CONTENT / photo), size))
        style = tf.constant(style2tensor(open_image(STYLE / painting), STYLE_SIZE, pooling=False))
        for method in methods:
            result = image2tensor(open_image(Path(outdir) / f"{method}-{Path(photo).stem}-{Path(painting).stem}.png"))
            losses[method, photo, painting] = vgg.objective(network, tf.constant(result), content, [(style, 1.0)])
    return losses


def compare(args):
    pairs = [(photo, painting) for photo in args.photos for painting in args.paintings]
    outdir = Path(tempfile.mkdtemp(prefix="nst-methods-"))
    runs = {}
    for method in args.methods:
        child = subprocess.run([sys.executable, __file__, "--child", method, "--quality", args.quality,
                                "--size", str(args.size), "--out", str(outdir),
                                "--pairs", json.dumps(pairs)], capture_output=True, text=True, check=True)
        runs[method] = json.loads(child.stdout.strip().splitlines()[-1])
    losses = measure(outdir, args.methods, pairs, args.size)
    report(args, pairs, runs, losses)
    if args.figure:
        figure(outdir, args.methods, pairs[0], Path(args.figure))


def report(args, pairs, runs, losses):
    print(f"{len(pairs)} pairs at {args.size} px (style seen at {STYLE_SIZE} px), gatys quality {args.quality}")
    print(f"{'method':<9} {'model s (median)':>17} {'total s (median)':>17} {'peak MB':>8} {'style loss':>11} "
          f"{'content loss':>13}")
    for method in args.methods:
        times = runs[method]["times"].values()
        style = statistics.mean(losses[method, p, q][0] for p, q in pairs)
        content = statistics.mean(losses[method, p, q][1] for p, q in pairs)
        print(f"{method:<9} {statistics.median(t['model'] for t in times):>17.3f} "
              f"{statistics.median(t['total'] for t in times):>17.3f} {runs[method]['peak_bytes'] / 2**20:>8.0f} "
              f"{style:>11.1f} {content:>13.1f}")
    print("\nper pair (style loss / content loss):")
    for photo, painting in pairs:
        cells = "  ".join(f"{m} {losses[m, photo, painting][0]:9.1f} / {losses[m, photo, painting][1]:7.1f}"
                          for m in args.methods)
        print(f"  {Path(photo).stem:<10} {Path(painting).stem:<15} {cells}")
    if {"magenta", "adain", "gatys"} <= set(args.methods):
        print("\ntargets, per pair: gatys style loss < magenta's and adain's; gatys content loss <= 1.5x magenta's")
        for photo, painting in pairs:
            gatys, magenta, adain = (losses[m, photo, painting] for m in ("gatys", "magenta", "adain"))
            style_ok = gatys[0] < min(magenta[0], adain[0])
            content_ratio = gatys[1] / magenta[1]
            print(f"  {Path(photo).stem:<10} {Path(painting).stem:<15} style lowest: {'yes' if style_ok else 'NO'}"
                  f"   content {content_ratio:.2f}x magenta's: {'yes' if content_ratio <= 1.5 else 'NO'}")


def figure(outdir, methods, pair, path):
    """The photo, the painting and each method's result side by side, labelled, as a JPEG."""
    from PIL import Image

    photo, painting = pair
    height = 360
    tiles = [("Photo", Image.open(CONTENT / photo)), ("Painting", Image.open(STYLE / painting))]
    result = "{}-" + f"{Path(photo).stem}-{Path(painting).stem}.png"
    tiles += [(LABELS.get(method, method), Image.open(outdir / result.format(method))) for method in methods]
    contact_sheet(tiles, height, path)
    print(f"wrote {path}")


def memory(args):
    """One process loading the methods one after another and running one transfer each: resident memory."""
    setup_django()
    from tfapp import engines, pipeline
    from tfapp.imaging import open_image

    photo, painting = open_image(CONTENT / args.photos[0]), open_image(STYLE / args.paintings[0])
    print(f"after start-up: {resident_bytes() / 2**20:.0f} MB resident")
    previous = resident_bytes()
    for method in args.methods:
        loaded = engines.get(method)
        options = pipeline.Options(method=method, quality="draft" if loaded.capabilities.qualities else None,
                                   max_size=args.size, style_size=STYLE_SIZE)
        pipeline.stylize(photo, painting, options, loaded)
        now = resident_bytes()
        print(f"{method:<8} loaded and run once at {args.size} px: {now / 2**20:.0f} MB resident "
              f"(+{(now - previous) / 2**20:.0f} MB)")
        previous = now
    print(f"peak resident: {peak_bytes() / 2**20:.0f} MB")


def contention(args):
    """A Magenta transfer's upload-to-done time with the machine idle, then while a Gatys job runs (serve)."""
    workdir = Path(tempfile.mkdtemp(prefix="nst-contention-"))
    process, port, _ = start_server(workdir, command="serve")
    photo, painting = CONTENT / args.photos[0], STYLE / args.paintings[0]
    try:
        idle = [follow(port, photo, painting, {"method": "magenta"}) for _ in range(args.runs)]
        status, gatys = upload_transfer(port, photo, painting, {"method": "gatys", "quality": args.quality})
        wait(port, gatys, "running")
        busy = [follow(port, photo, painting, {"method": "magenta"}) for _ in range(args.runs)]
        still = state(port, gatys)["status"]
    finally:
        process.terminate()
        process.wait(30)
    print(f"magenta upload to done, idle:              median {statistics.median(idle):.3f} s {fmt(idle)}")
    print(f"magenta upload to done, gatys job running: median {statistics.median(busy):.3f} s {fmt(busy)}"
          f"  (gatys still {still} after the last)")
    print(f"ratio of medians: {statistics.median(busy) / statistics.median(idle):.2f}x (target <= 2x)")


def fmt(values):
    return "(" + ", ".join(f"{value:.2f}" for value in values) + ")"


def state(port, location):
    return json.loads(request(port, "GET", location + "status.json")[2])


def wait(port, location, status, timeout=600):
    deadline = time.monotonic() + timeout
    while state(port, location)["status"] not in (status, "done", "failed"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{location} did not reach {status}")
        time.sleep(0.2)


def follow(port, photo, painting, fields):
    started = time.perf_counter()
    status, location = upload_transfer(port, photo, painting, fields)
    if status != 302:
        raise RuntimeError(f"upload refused with HTTP {status}")
    token = ""
    while True:
        current = json.loads(request(port, "GET", f"{location}status.json?after={token}")[2])
        if current["status"] in ("done", "failed"):
            return time.perf_counter() - started
        token = current["token"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", nargs="+", default=list(PHOTOS))
    parser.add_argument("--paintings", nargs="+", default=list(PAINTINGS))
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--quality", default="standard", help="Gatys's quality preset.")
    parser.add_argument("--size", type=int, default=512, help="Long side of the results.")
    parser.add_argument("--figure", help="Write the first pair's results side by side to this JPEG.")
    parser.add_argument("--memory", action="store_true", help="Resident memory of one process holding all methods.")
    parser.add_argument("--contention", action="store_true", help="Magenta through `serve` while Gatys runs.")
    parser.add_argument("--runs", type=int, default=5, help="Magenta transfers timed in each --contention phase.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--pairs", help=argparse.SUPPRESS)
    args = parser.parse_args()
    print_host()
    if args.child:
        run_method(args.child, args.quality, args.size, json.loads(args.pairs), args.out)
    elif args.memory:
        memory(args)
    elif args.contention:
        contention(args)
    else:
        compare(args)


if __name__ == "__main__":
    main()
