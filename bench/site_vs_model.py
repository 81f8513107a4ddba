"""A transfer through the site vs. the raw model call, on the same photo and painting at 512 px.

(a) the lecture notebook path: decode both files with PIL, make tensors, call the
    model, turn the output back into an image, in one Python process;
(b) the site: an HTTP multipart upload to a running site (`manage.py serve`, one
    worker, lite engine) until its status reports the result stored.
Also prints the time from starting the server to serving with the model loaded.

    python bench/site_vs_model.py [--runs 10]
"""
import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (  # noqa: E402
    CONTENT,
    LITE_DIR,
    STYLE,
    request,
    start_server,
    summary,
    upload_transfer,
)


def notebook_path(runs, content_path, style_path):
    """The lecture's code path, timed from file to stylized image."""
    from PIL import Image

    from tfapp.engines.lite import LiteEngine
    from tfapp.imaging import image2tensor, style2tensor, tensor2image

    engine = LiteEngine(LITE_DIR)
    model_only, end_to_end = [], []
    for _ in range(runs + 1):
        started = time.perf_counter()
        content = image2tensor(Image.open(content_path), max_size=512)
        style = style2tensor(Image.open(style_path), 256)
        model_started = time.perf_counter()
        output = engine.stylize(content, style)
        model_only.append(time.perf_counter() - model_started)
        tensor2image(output)
        end_to_end.append(time.perf_counter() - started)
    return model_only[1:], end_to_end[1:], content.shape


def site_path(runs, content_path, style_path):
    with tempfile.TemporaryDirectory() as workdir:
        process, port, ready_seconds = start_server(Path(workdir), command="serve")
        try:
            times, uploads = [], []
            for _ in range(runs + 1):
                started = time.perf_counter()
                status, location = upload_transfer(port, content_path, style_path)
                uploads.append(time.perf_counter() - started)
                if status != 302 or "/t/" not in (location or ""):
                    raise RuntimeError(f"upload failed: HTTP {status}")
                while b'"done"' not in request(port, "GET", location + "status.json")[2]:
                    time.sleep(0.02)
                times.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait()
    return times[1:], uploads[1:], ready_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--content", type=Path, default=CONTENT / "astronaut.png")
    parser.add_argument("--style", type=Path, default=STYLE / "starry_night.jpg")
    args = parser.parse_args()

    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    django.setup()
    model, notebook, shape = notebook_path(args.runs, args.content, args.style)
    site, uploads, ready = site_path(args.runs, args.content, args.style)
    median = sorted(notebook)[len(notebook) // 2]
    site_median = sorted(site)[len(site) // 2]
    print(f"content {args.content.name} at {shape[2]}x{shape[1]}, style {args.style.name} at 256 px, lite engine, "
          f"warm, first run discarded")
    print(f"model call alone             {summary(model)}")
    print(f"(a) notebook path            {summary(notebook)}")
    print(f"(b) site, HTTP upload->stored {summary(site)}")
    print(f"  of which the upload request {summary(uploads)}")
    print(f"ratio (b)/(a), medians       {site_median / median:.2f}x")
    print(f"`serve` start -> serving requests, web process's model loaded: {ready:.2f} s")


if __name__ == "__main__":
    main()
