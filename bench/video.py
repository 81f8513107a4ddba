"""Video: how steady consistent clips are, how fast a clip goes, and the memory it takes — side by side, one run.

1. On ``../shared/videos/carphone.mp4`` (176x144, 120 frames, camera and subject
   motion) and on a clip made in code with known motion (a textured scene panning
   3 px right and 1 px down per frame, 640x360, 60 frames at 30 fps), each stylized
   with Magenta independently (consistency 0) and with the default consistency:
   Lai et al. (2018)'s warping error of each (``tests.metrics.warping_error``, on the
   decoded MP4s, flow by DIS's finer "medium" preset) and its ratio (target <= 0.5),
   and the mean SSIM of the consistent frames against the independent ones (target
   >= 0.8: steady, not blurred).
2. Frames per second end to end (probe, style vector, decode, stylize, flow and blend,
   keep, encode) for the 640x360 clip with consistency, on the default runtime and
   precision and, on a CPU with native bfloat16, also in f32; the share of each stage.
3. The peak resident memory of a fresh process stylizing a 1280x720 clip (30 frames),
   the model included (target <= 1.5 GB).

``--figure docs/video.jpg`` also draws four frames of carphone, independent above
consistent, with the change from each frame's predecessor below each (what flickers).

    python bench/video.py [--threads 2] [--figure docs/video.jpg] [--skip-memory]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import MODEL_ENV, SHARED, STYLE, print_host  # noqa: E402

CARPHONE = SHARED / "videos" / "carphone.mp4"
PAINTING = STYLE / "starry_night.jpg"
#: The frames of carphone the figure shows.
FIGURE_FRAMES = (40, 41, 42, 43)


def setup_django(threads):
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    for name, value in MODEL_ENV.items():
        os.environ.setdefault(name, value)
    os.environ["NST_ENGINE_THREADS"] = str(threads)
    django.setup()


def painting():
    from tfapp.imaging import open_image

    return open_image(PAINTING)


def synthetic_clip(folder, width, height, frames):
    from tests.clips import moving_frames, write_clip

    return write_clip(folder / f"pan-{width}x{height}.mp4", moving_frames(width, height, frames, shift=(3, 1)), fps=30)


def stylized(source, folder, consistency, name):
    from tfapp import video
    from tfapp.pipeline import Options

    destination = folder / f"{name}.mp4"
    started = time.perf_counter()
    result = video.stylize_clip(source, destination, [(painting(), 1.0)], Options(), consistency=consistency,
                                work_dir=folder / f"{name}.work")
    return destination, result, time.perf_counter() - started


def input_frames(source):
    from fractions import Fraction

    from tfapp import clips, video

    info = video.probe(source)
    return list(clips.read_frames(source, video.output_size(info), info.rotation,
                                  Fraction(info.fps).limit_denominator(1001)))


def steadiness(folder, label, source, consistency):
    """Print the warping errors and SSIM of one clip; returns (independent, consistent) decoded frames."""
    from tests.clips import decoded_frames
    from tests.metrics import luminance_ssim, warping_error

    inputs = input_frames(source)
    independent = decoded_frames(stylized(source, folder, 0.0, f"{label}-independent")[0])
    steady = decoded_frames(stylized(source, folder, consistency, f"{label}-consistent")[0])
    apart, together = warping_error(inputs, independent), warping_error(inputs, steady)
    ssim = sum(luminance_ssim(a, b) for a, b in zip(independent, steady)) / len(steady)
    print(f"{label:<22} {len(inputs):>6} {apart:>18.5f} {together:>18.5f} {together / apart:>7.2f} {ssim:>10.3f}")
    return independent, steady


def speed(folder, source, precision):
    from django.conf import settings

    from tfapp import engines, runtime_choice

    settings.NST_PRECISION = precision
    engines.reset()
    stylized(source, folder, None, f"warm-{precision}")  # loads the model and compiles it
    _, result, seconds = stylized(source, folder, None, f"speed-{precision}")
    shares = ", ".join(f"{stage} {result.seconds.get(stage, 0) / seconds:.0%}"
                       for stage in ("decode", "stylize", "flow", "store", "encode"))
    megapixels = result.width * result.height / 1e6
    overhead = (seconds - result.seconds["stylize"]) / result.frames / megapixels
    print(f"{runtime_choice.configured_name()} {runtime_choice.configured_precision():<5} {result.frames} frames "
          f"{result.width}x{result.height} in {seconds:.1f} s: {result.frames / seconds:.2f} frames/s ({shares}); "
          f"all but the network: {overhead:.2f} s per megapixel of frame")


def memory_child(threads):
    """In this fresh process: stylize a 1280x720 clip and print the peak resident memory as JSON."""
    setup_django(threads)
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        source = synthetic_clip(folder, 1280, 720, 30)
        _, result, seconds = stylized(source, folder, None, "memory")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"peak_bytes": peak, "frames": result.frames, "seconds": seconds}))


def memory(threads):
    run = subprocess.run([sys.executable, __file__, "--memory-child", "--threads", str(threads)],
                         capture_output=True, text=True, check=True)
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"1280x720, {figures['frames']} frames in {figures['seconds']:.1f} s: peak resident memory "
          f"{figures['peak_bytes'] / 2**30:.2f} GiB (the whole process, model included)")


def figure(path, independent, steady):
    """Four frames, independent over consistent, each with its change from the frame before (x3) below."""
    import numpy as np
    from PIL import Image, ImageDraw

    def change(frames, index):
        return np.clip(3 * np.abs(frames[index].astype(np.int16) - frames[index - 1]), 0, 255).astype(np.uint8)

    rows = [("independent", [independent[i] for i in FIGURE_FRAMES]),
            ("its change from the frame before, x3", [change(independent, i) for i in FIGURE_FRAMES]),
            ("consistent (default 0.7)", [steady[i] for i in FIGURE_FRAMES]),
            ("its change from the frame before, x3", [change(steady, i) for i in FIGURE_FRAMES])]
    height, width = independent[0].shape[:2]
    scale, label = 2, 18
    sheet = Image.new("RGB", (4 * width * scale, len(rows) * (height * scale + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for row, (title, frames) in enumerate(rows):
        top = row * (height * scale + label)
        draw.text((4, top + 3), title, fill="black")
        for column, frame in enumerate(frames):
            tile = Image.fromarray(frame).resize((width * scale, height * scale), Image.Resampling.NEAREST)
            sheet.paste(tile, (column * width * scale, top + label))
    sheet.save(path, quality=88)
    print(f"Wrote {path}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--figure", type=Path, help="Also draw the independent/consistent figure here.")
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return memory_child(args.threads)
    setup_django(args.threads)
    from tfapp import conf, host

    print_host()
    consistency = conf.video_consistency()
    with tempfile.TemporaryDirectory() as work:
        folder = Path(work)
        pan = synthetic_clip(folder, 640, 360, 60)
        print(f"\nSteadiness, Magenta, consistency {consistency:g} against 0 (warping error: lower is steadier)")
        print(f"{'clip':<22} {'frames':>6} {'error independent':>18} {'error consistent':>18} {'ratio':>7} "
              f"{'SSIM':>10}")
        independent, steady = steadiness(folder, "carphone 176x144", CARPHONE, consistency)
        steadiness(folder, "panning scene 640x360", pan, consistency)
        if args.figure:
            figure(args.figure, independent, steady)
        print(f"\nSpeed end to end, Magenta, consistency {consistency:g}, {args.threads} threads")
        speed(folder, pan, "auto")
        if host.has_native_bf16():
            speed(folder, pan, "f32")
    if not args.skip_memory:
        print("\nMemory")
        memory(args.threads)
    print_host()


if __name__ == "__main__":
    main()
