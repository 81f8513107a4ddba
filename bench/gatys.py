"""Gatys's presets at 512 px: time, peak memory and the objective, beside L-BFGS and Magenta.

Each case runs in a fresh process, so its peak resident memory is its own. The
photo is astronaut.png at 512 px, the painting starry_night.jpg seen at 256 px; the
objective is ``vgg.objective`` (style loss, content loss) at 512 px. Printed:

- each quality preset (Adam): seconds, peak RSS, style and content loss, and the
  measured seconds per iteration at each scale (what ``iteration_seconds`` models);
- L-BFGS over each preset's schedule, beside Adam's: same iterations, so the
  same number of VGG evaluations and about the same time;
- Magenta (the lite engine) on the same pair;
- peak memory at 1024 px with standard's iterations at the finest scale and one at
  each coarser one (the peak is set by the finest scale);
- with ``--bf16``, instead of the presets above, each preset in both precisions (``NST_PRECISION=f32`` and ``bf16``:
  the VGG-19's convolutions in bfloat16), and how far bf16's losses are from f32's, on
  each ``--pairs`` photo and painting (bf16 is the default only on CPUs with native BF16).

    python bench/gatys.py [--qualities draft standard fine] [--no-lbfgs] [--no-1024]
                          [--bf16 [--pairs astronaut.png:starry_night.jpg chelsea.png:the_scream.jpg]]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, LITE_DIR, SHARED, STYLE, print_host  # noqa: E402

SIDE, STYLE_SIDE = 512, 256
VGG_WEIGHTS = SHARED / "models" / "vgg19-normalised" / "vgg19_normalised_relu4_1.npz"


class Timings:
    """A Progress that notes the seconds between reports, by image size of the preview's scale."""

    def __init__(self, plan):
        self.sizes = [size for size, iterations, _ in plan for _ in range(iterations)]
        self.seconds = defaultdict(list)
        self.last = time.perf_counter()

    def report(self, fraction, preview=None):
        now = time.perf_counter()
        self.seconds[self.sizes[sum(map(len, self.seconds.values()))]].append(now - self.last)
        self.last = now


def run_case(case):
    """One case in this process; returns its figures as a dict."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    # The losses below are measured in f32 whatever precision the method ran in.
    os.environ["NST_PRECISION"] = case.get("precision", "f32")
    django.setup()
    import tensorflow as tf
    from PIL import Image

    from tfapp.engines import gatys, vgg
    from tfapp.imaging import image2tensor, style2tensor

    side = case.get("side", SIDE)
    # astronaut.png is 512 px; image2tensor never enlarges, so larger sides are resized here.
    photo_name, painting_name = case.get("pair", "astronaut.png:starry_night.jpg").split(":")
    photo = Image.open(CONTENT / photo_name).convert("RGB")
    photo = image2tensor(photo.resize((side, round(side * photo.height / photo.width)), Image.Resampling.LANCZOS))
    painting = style2tensor(Image.open(STYLE / painting_name), STYLE_SIDE)
    started = time.perf_counter()
    if case["method"] == "magenta":
        from tfapp.engines.lite import LiteEngine

        result, per_iteration = LiteEngine(LITE_DIR).stylize(photo, [(painting, 1.0)]), {}
    else:
        method = gatys.GatysMethod(VGG_WEIGHTS)
        schedule = gatys.Schedule(tuple(case["iterations"]), case["optimiser"], case.get("resolution", 1.0))
        timings = Timings(method._plan(photo.shape[1:3], schedule))
        result = method.stylize(photo, [(painting, 1.0)], schedule=schedule, progress=timings)
        per_iteration = {f"{h}x{w}": round(sum(s) / len(s), 2) for (h, w), s in timings.seconds.items()}
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    style, content = vgg.objective(vgg.VGG19(VGG_WEIGHTS, "f32"), tf.constant(result),
                                   tf.constant(photo), [(tf.constant(painting), 1.0)])
    return {"seconds": round(seconds, 1), "peak_mb": round(peak_mb), "style": round(style, 5),
            "content": round(content, 5), "per_iteration": per_iteration}


def in_fresh_process(case):
    output = subprocess.run([sys.executable, __file__, "--case", json.dumps(case)], check=True,
                            capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def line(name, figures):
    return (f"{name:<34} {figures['seconds']:>8.1f} s {figures['peak_mb']:>7} MB  style {figures['style']:>8.3f}"
            f"  content {figures['content']:>7.3f}  {figures['per_iteration'] or ''}")


def compare_precisions(qualities, pairs):
    """Each quality on each pair in f32 and in bf16, one after the other, with bf16's differences."""
    from tfapp.engines.gatys import QUALITIES

    for pair in pairs:
        for quality in qualities:
            case = {"method": "gatys", "iterations": list(QUALITIES[quality].iterations), "optimiser": "adam",
                    "resolution": QUALITIES[quality].resolution, "pair": pair}
            f32 = in_fresh_process({**case, "precision": "f32"})
            bf16 = in_fresh_process({**case, "precision": "bf16"})
            print(line(f"{pair} {quality} f32", f32), flush=True)
            print(line(f"{pair} {quality} bf16", bf16), flush=True)
            print(f"{'':<34} bf16 / f32: time {bf16['seconds'] / f32['seconds']:.2f}x, style "
                  f"{bf16['style'] / f32['style'] - 1:+.1%}, content {bf16['content'] / f32['content'] - 1:+.1%}",
                  flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--qualities", nargs="*", default=["draft", "standard", "fine"])
    parser.add_argument("--no-lbfgs", action="store_true", help="skip L-BFGS over each quality's schedule")
    parser.add_argument("--no-1024", action="store_true")
    parser.add_argument("--bf16", action="store_true", help="each quality also in bf16, with its loss differences")
    parser.add_argument("--pairs", nargs="*", default=["astronaut.png:starry_night.jpg"],
                        help="PHOTO:PAINTING names in ../shared/images for the bf16 comparison")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    print_host()
    if arguments.case:
        print(json.dumps(run_case(json.loads(arguments.case))))
        return
    from tfapp.engines.gatys import QUALITIES

    print(f"astronaut.png at {SIDE} px, starry_night.jpg seen at {STYLE_SIDE} px; load: {os.getloadavg()}")
    print(f"{'case':<34} {'time':>10} {'peak RSS':>10}  objective at {SIDE} px  seconds/iteration by scale")
    print(line("magenta (lite)", in_fresh_process({"method": "magenta"})), flush=True)
    if arguments.bf16:
        compare_precisions(arguments.qualities, arguments.pairs)
    for quality in [] if arguments.bf16 else arguments.qualities:
        schedule = QUALITIES[quality]
        for optimiser in ("adam",) if arguments.no_lbfgs else ("adam", "lbfgs"):
            case = {"method": "gatys", "iterations": list(schedule.iterations), "optimiser": optimiser,
                    "resolution": schedule.resolution}
            print(line(f"gatys {quality} {case['iterations']} {optimiser}", in_fresh_process(case)), flush=True)
    if not arguments.no_1024:
        finest = QUALITIES["standard"].iterations[-1]
        case = {"method": "gatys", "iterations": [1] * 6 + [finest], "optimiser": "adam", "side": 1024}
        print(line(f"gatys 1024 px {case['iterations']} adam", in_fresh_process(case)), flush=True)
    print(f"load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
