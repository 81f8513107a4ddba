"""How much of the photo and how much of the painting each method keeps, over many pairs.

Eighteen pairs: each of the three shared photos with each of the four shared
paintings, and each of three photos drawn in code (``tests/scenes.py``: a
riverside town, a suspension bridge, a tower at night) with The Scream and with a
painting drawn in code (swirls). Each method runs on
each pair at ``--size`` px (the painting seen at 256 px), Gatys at each quality, in
this one process. Each result is then measured four ways:

- the VGG-19 style loss against the painting and content loss against the photo
  (``vgg.objective``, the raw Gatys losses every benchmark compares with);
- two structure scores that do not use VGG (``tests/metrics.py``): the correlation
  of the Sobel edge magnitudes of photo and result, both blurred by 2 px, and the
  SSIM of their luminance. 1 means the photo's structure is all there.

It prints a table per pair, checks the targets of issue 22 on every pair (Gatys
standard's edge correlation at least 0.9x AdaIN's and 0.9x its own draft's, its
style loss the lowest of the methods, fine's edge correlation at least standard's)
and writes a figure of the pair where Gatys standard keeps least of the photo.

    python bench/quality.py [--size 512] [--qualities draft standard fine]
        [--methods magenta adain] [--photos astronaut town ...] [--paintings the_scream ...]
        [--figure docs/quality-worst.jpg] [--json results.json]
"""
import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, MODEL_ENV, ROOT, STYLE, contact_sheet, print_host  # noqa: E402

STYLE_SIZE = 256
SHARED_PHOTOS = ("astronaut", "chelsea", "coffee")
SHARED_PAINTINGS = ("starry_night", "the_scream", "shipwreck", "woman_with_hat")


def setup_django():
    os.environ.update(MODEL_ENV)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def load_images(photos, paintings):
    """``({name: photo}, {name: painting})`` as RGB Pillow images, shared ones from disk, the rest drawn."""
    from tests import scenes
    from tfapp.imaging import open_image

    def load(name, folder, suffix, drawn):
        return drawn[name]() if name in drawn else open_image(folder / f"{name}{suffix}")

    return ({name: load(name, CONTENT, ".png", scenes.PHOTOS) for name in photos},
            {name: load(name, STYLE, ".jpg", scenes.PAINTINGS) for name in paintings})


def default_pairs():
    """Every shared photo with every shared painting; each drawn photo with The Scream and with the drawn painting."""
    from tests import scenes

    return ([(photo, painting) for photo in SHARED_PHOTOS for painting in SHARED_PAINTINGS]
            + [(photo, painting) for photo in scenes.PHOTOS for painting in ("the_scream", *scenes.PAINTINGS)])


def run(cases, pairs, photos, paintings, size):
    """``{(case, photo, painting): (result as RGB image, seconds)}`` for every case ``(method, quality)``."""
    from tfapp import engines, pipeline

    results = {}
    for method_name, quality in cases:
        method = engines.get(method_name)
        options = pipeline.Options(method=method_name, quality=quality, max_size=size, style_size=STYLE_SIZE)
        for photo_name, painting_name in pairs:
            started = time.perf_counter()
            stylized = pipeline.stylize(photos[photo_name], paintings[painting_name], options, method)
            seconds = time.perf_counter() - started
            results[label(method_name, quality), photo_name, painting_name] = (stylized.image, seconds)
            print(f"  {label(method_name, quality):<15} {photo_name:<15} {painting_name:<15} {seconds:6.1f} s",
                  flush=True)
    return results


def label(method, quality):
    return f"{method} {quality}" if quality else method


def measure(results, photos, paintings, size):
    """``{(case, photo, painting): {"style", "content", "edges", "ssim", "seconds"}}``."""
    import numpy as np
    import tensorflow as tf

    from tests.metrics import edge_correlation, luminance_ssim
    from tfapp.engines import vgg
    from tfapp.imaging import image2tensor, style2tensor

    network = vgg.shared_vgg()
    scores = {}
    for (case, photo_name, painting_name), (image, seconds) in results.items():
        content = image2tensor(photos[photo_name], size)
        style = tf.constant(style2tensor(paintings[painting_name], STYLE_SIZE, pooling=False))
        result = np.asarray(image, np.float32)[None] / 255.0
        style_loss, content_loss = vgg.objective(network, tf.constant(result), tf.constant(content), [(style, 1.0)])
        scores[case, photo_name, painting_name] = {
            "style": style_loss, "content": content_loss, "seconds": seconds,
            "edges": edge_correlation(content[0], result[0]), "ssim": luminance_ssim(content[0], result[0])}
    return scores


def report(scores, cases, pairs):
    print(f"\n{'pair':<31} {'case':<15} {'style':>9} {'content':>8} {'edges':>6} {'SSIM':>6} {'time s':>7}")
    for photo, painting in pairs:
        for case in cases:
            s = scores[case, photo, painting]
            print(f"{photo + ' + ' + painting:<31} {case:<15} {s['style']:>9.1f} {s['content']:>8.2f} "
                  f"{s['edges']:>6.2f} {s['ssim']:>6.2f} {s['seconds']:>7.1f}")
    print(f"\nmeans over {len(pairs)} pairs")
    for case in cases:
        mean = {key: statistics.mean(scores[case, p, q][key] for p, q in pairs)
                for key in ("style", "content", "edges", "ssim", "seconds")}
        print(f"  {case:<15} style {mean['style']:>9.1f}  content {mean['content']:>6.2f}  edges "
              f"{mean['edges']:.2f}  SSIM {mean['ssim']:.2f}  time {mean['seconds']:.1f} s")


def check_targets(scores, cases, pairs):
    """Print each pair's verdict on issue 22's targets; return the number of pairs that miss one."""
    if not {"adain", "gatys draft", "gatys standard"} <= set(cases):
        return 0
    others = [case for case in cases if not case.startswith("gatys")]
    missed = 0
    print("\ntargets: standard edges >= 0.9x adain's and >= 0.9x draft's; standard style lowest of the methods; "
          "fine edges >= standard's")
    for photo, painting in pairs:
        edges = {case: scores[case, photo, painting]["edges"] for case in cases}
        style = {case: scores[case, photo, painting]["style"] for case in cases}
        checks = {
            "vs adain": edges["gatys standard"] >= 0.9 * edges["adain"],
            "vs draft": edges["gatys standard"] >= 0.9 * edges["gatys draft"],
            "style lowest": all(style["gatys standard"] < style[other] for other in others),
        }
        if "gatys fine" in cases:
            checks["fine >= standard"] = edges["gatys fine"] >= edges["gatys standard"]
        missed += not all(checks.values())
        print(f"  {photo + ' + ' + painting:<31} " + "  ".join(f"{name}: {'yes' if ok else 'NO'}"
                                                              for name, ok in checks.items()))
    print(f"{missed} of {len(pairs)} pairs miss a target")
    return missed


def worst_pair(scores, pairs, case="gatys standard"):
    return min(pairs, key=lambda pair: scores[(case, *pair)]["edges"])


def figure(results, photos, paintings, cases, pair, path):
    """The pair's photo, painting and every case's result in a row, labelled, as a JPEG."""
    photo, painting = pair
    tiles = [("Photo", photos[photo]), ("Painting", paintings[painting])]
    tiles += [(case, results[case, photo, painting][0]) for case in cases]
    contact_sheet(tiles, 300, path)
    print(f"wrote {path} ({photo} + {painting})")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="long side of the results")
    parser.add_argument("--methods", nargs="*", default=["magenta", "adain"], help="methods besides Gatys")
    parser.add_argument("--qualities", nargs="*", default=["draft", "standard", "fine"], help="Gatys's qualities")
    parser.add_argument("--photos", nargs="+", help="every pair of these and --paintings, instead of the default pairs")
    parser.add_argument("--paintings", nargs="+")
    parser.add_argument("--figure", help="write the worst pair's results side by side to this JPEG")
    parser.add_argument("--json", help="write every score to this file")
    arguments = parser.parse_args()
    setup_django()
    print_host()
    pairs = default_pairs() if arguments.photos is None else [
        (photo, painting) for photo in arguments.photos for painting in arguments.paintings or SHARED_PAINTINGS]
    photos, paintings = load_images({photo for photo, _ in pairs}, {painting for _, painting in pairs})
    cases = [(method, None) for method in arguments.methods] + [("gatys", q) for q in arguments.qualities]
    results = run(cases, pairs, photos, paintings, arguments.size)
    scores = measure(results, photos, paintings, arguments.size)
    labels = [label(*case) for case in cases]
    report(scores, labels, pairs)
    check_targets(scores, labels, pairs)
    print(f"load average {os.getloadavg()}")
    if arguments.figure and "gatys standard" in labels:
        figure(results, photos, paintings, labels, worst_pair(scores, pairs), Path(arguments.figure))
    if arguments.json:
        Path(arguments.json).write_text(json.dumps({" | ".join(key): value for key, value in scores.items()}))


if __name__ == "__main__":
    main()
