"""The transfer network on each runtime, side by side in one process: LiteRT, OpenVINO f32 (and bf16).

For content of 384, 512 and 1024 px (square) and 4096x2731 (tiled), prints the
median warm model time (``engine.transfer``) of each runtime, the calls
alternating between runtimes so machine load hits all alike, and each output's
difference from LiteRT's (max and mean per colour value in levels of 255, and
the colour distance of tests/metrics.py). At 4096 px it also times the whole
``pipeline.stylize`` from Pillow images to Pillow image ("end to end"). bf16 runs
only where OpenVINO reports native BF16 on this CPU. The last line gives each
runtime's speed-up over LiteRT per size.

    python bench/runtimes.py [--runs 5] [--large-runs 1]
"""
import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from _common import CONTENT, LITE_DIR, STYLE, print_host  # noqa: E402

SQUARE_SIDES = (384, 512, 1024)
LARGE = (4096, 2731)


def engines():
    """``{label: engine}`` for every runtime and precision this machine can run, LiteRT first."""
    from tfapp.engines import runtimes
    from tfapp.engines.lite import LiteEngine

    choices = [("litert", "f32")]
    if runtimes.is_installed("openvino"):
        choices.append(("openvino", "f32"))
        if runtimes.native_bf16():
            choices.append(("openvino", "bf16"))
        else:
            print("OpenVINO bf16: not measured, this CPU has no native bfloat16 arithmetic.")
    return {f"{name} {precision}": LiteEngine(LITE_DIR, runtimes.choose(name, precision, 2))
            for name, precision in choices}


def timed(call):
    started = time.perf_counter()
    result = call()
    return time.perf_counter() - started, result


def compare(call_of, runs):
    """Warm each runtime's call once, then time ``runs`` calls of each, alternating; ``{label: (times, output)}``."""
    outputs = {label: call() for label, call in call_of.items()}
    times = {label: [] for label in call_of}
    for _ in range(runs):
        for label, call in call_of.items():
            times[label].append(timed(call)[0])
    return {label: (times[label], outputs[label]) for label in call_of}


def differences(output, reference):
    """Max and mean absolute difference in levels of 255, and colour distance (x1000), from ``reference``."""
    from tests.metrics import colour_distance
    from tfapp.imaging import tensor2image

    if not hasattr(output, "shape"):
        output, reference = (np.asarray(image, np.float32)[None] / 255.0 for image in (output, reference))
    levels = np.abs(output - reference) * 255
    distance = max(0.0, colour_distance(tensor2image(output), tensor2image(reference))) * 1000
    return f"max {levels.max():5.2f} mean {levels.mean():.3f} colour {distance:.3f}"


def report(size, results, speedups):
    reference = results["litert f32"][1]
    for label, (times, output) in results.items():
        median = statistics.median(times)
        speedups.setdefault(label, []).append(f"{size} {statistics.median(results['litert f32'][0]) / median:.2f}x")
        print(f"{size:>10} {label:<14} {median:8.3f} s  (n={len(times)})  vs LiteRT: {differences(output, reference)}")


def main():
    import django
    from PIL import Image

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    django.setup()
    from tfapp import pipeline
    from tfapp.imaging import image2tensor, style2tensor

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--large-runs", type=int, default=1)
    args = parser.parse_args()
    print_host()
    by_label = engines()
    painting = Image.open(STYLE / "starry_night.jpg")
    vector = by_label["litert f32"].style_vector(style2tensor(painting, 256))
    photo = Image.open(CONTENT / "coffee.png").convert("RGB")
    speedups = {}
    print(f"{'content':>10} {'runtime':<14} {'model time':>10}")
    for side in SQUARE_SIDES:
        content = image2tensor(photo.resize((side, side), Image.Resampling.LANCZOS))
        calls = {label: (lambda e=engine: e.transfer(content, vector)) for label, engine in by_label.items()}
        report(f"{side}x{side}", compare(calls, args.runs), speedups)
    large = photo.resize(LARGE, Image.Resampling.LANCZOS)
    content = image2tensor(large, max(LARGE))
    calls = {label: (lambda e=engine: e.transfer(content, vector)) for label, engine in by_label.items()}
    report("4096x2731", compare(calls, args.large_runs), speedups)
    print("(tiled, both engines run their tiles on OpenVINO with the whole image's statistics; "
          "see bench/tile_statistics.py)")
    options = pipeline.Options(max_size=max(LARGE))
    calls = {label: (lambda e=engine: pipeline.stylize(large, painting, options, e).image)
             for label, engine in by_label.items()}
    report("4096 e2e", compare(calls, args.large_runs), speedups)
    print("speed-up over LiteRT: " + "; ".join(f"{label}: {', '.join(figures)}"
                                             for label, figures in speedups.items() if label != "litert f32"))


if __name__ == "__main__":
    main()
