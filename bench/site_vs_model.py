"""A transfer through the site vs. the raw model call, on the same photo and painting at 512 px.

(a) the lecture notebook path: decode both files with PIL, make tensors, call the
    model, turn the output back into an image, in one Python process;
(b) the site: an HTTP multipart upload to a running site (`manage.py serve`, one
    worker, lite engine) until its status reports the result stored.
Also prints the time from starting the server to serving with the model loaded.

    python bench/site_vs_model.py [--runs 10]
"""
import argparse
import statistics
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


class NotebookPath:
    """The lecture's code path, timed from files to stylized image, with the engine loaded once."""

    def __init__(self):
        from tfapp.engines.lite import LiteEngine

        self.engine = LiteEngine(LITE_DIR)

    def run(self, content_path, style_path):
        """One transfer; returns (model seconds, total seconds, content tensor shape)."""
        from PIL import Image

        from tfapp.imaging import image2tensor, style2tensor, tensor2image

        started = time.perf_counter()
        content = image2tensor(Image.open(content_path), max_size=512)
        style = style2tensor(Image.open(style_path), 256)
        model_started = time.perf_counter()
        output = self.engine.stylize(content, style)
        model_seconds = time.perf_counter() - model_started
        tensor2image(output)
        return model_seconds, time.perf_counter() - started, content.shape


def site_transfer(port, content_path, style_path):
    """One upload to a running site until its result is stored; returns (total, upload request) seconds."""
    started = time.perf_counter()
    status, location = upload_transfer(port, content_path, style_path)
    uploaded = time.perf_counter() - started
    if status != 302 or "/t/" not in (location or ""):
        raise RuntimeError(f"upload failed: HTTP {status}")
    while b'"done"' not in request(port, "GET", location + "status.json")[2]:
        time.sleep(0.02)
    return time.perf_counter() - started, uploaded


def paired_runs(runs, content_path, style_path):
    """Alternate the notebook path and the site, so both meet the same machine conditions."""
    notebook = NotebookPath()
    results = {"model": [], "notebook": [], "site": [], "upload": [], "ratio": []}
    with tempfile.TemporaryDirectory() as workdir:
        process, port, ready_seconds = start_server(Path(workdir), command="serve")
        try:
            for run in range(runs + 1):
                model, total, shape = notebook.run(content_path, style_path)
                site, upload = site_transfer(port, content_path, style_path)
                if run:  # the first pair warms both up
                    for name, value in zip(results, (model, total, site, upload, site / total)):
                        results[name].append(value)
        finally:
            process.terminate()
            process.wait()
    return results, ready_seconds, shape


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
    results, ready, shape = paired_runs(args.runs, args.content, args.style)
    print(f"content {args.content.name} at {shape[2]}x{shape[1]}, style {args.style.name} at 256 px, lite engine, "
          f"warm; notebook and site runs alternate")
    print(f"model call alone              {summary(results['model'])}")
    print(f"(a) notebook path             {summary(results['notebook'])}")
    print(f"(b) site, HTTP upload->stored {summary(results['site'])}")
    print(f"  of which the upload request {summary(results['upload'])}")
    print(f"ratio (b)/(a) of each pair    median {statistics.median(results['ratio']):.2f}x "
          f"(min {min(results['ratio']):.2f}, max {max(results['ratio']):.2f})")
    print(f"`serve` start -> serving requests, web process's model loaded: {ready:.2f} s")


if __name__ == "__main__":
    main()
