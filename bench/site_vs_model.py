"""A transfer through the site vs. the raw model call, on the same photo and painting at 512 px.

(a) the lecture notebook path: decode both files with PIL, make tensors, call the
    model, turn the output back into an image, in one Python process;
(b) the site: an HTTP multipart upload to a running site (`manage.py serve`, one
    worker, lite engine) until its status reports the result stored, following the
    status the way the result page does.
The two alternate. (a) runs with the site's processes paused (SIGSTOP), so it has the
machine to itself, and each pair starts only once the worker has also stored the
previews it makes after the result, so no leftover work slows the next run.
Also prints where the site's time goes, stage by stage (from the client's clock and the times
the transfer's row records), the CPU time the web processes spent on the upload request
(which, unlike its wall time, a busy shared machine hardly changes), and the time from
starting the server to serving with the model loaded.

    python bench/site_vs_model.py [--runs 10]
"""
import argparse
import json
import os
import signal
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import (  # noqa: E402
    CONTENT,
    LITE_DIR,
    STYLE,
    print_host,
    request,
    start_server,
    summary,
    upload_transfer,
)


class NotebookPath:
    """The lecture's code path, timed from files to stylized image, with the engine loaded once."""

    def __init__(self, runtime=""):
        from tfapp import conf
        from tfapp.engines import runtimes
        from tfapp.engines.lite import LiteEngine

        self.engine = LiteEngine(LITE_DIR, runtimes.choose(runtime, conf.precision(), conf.engine_threads()))

    def run(self, content_path, style_path):
        """One transfer; returns (model seconds, total seconds, content tensor shape)."""
        from PIL import Image

        from tfapp.imaging import image2tensor, style2tensor, tensor2image

        started = time.perf_counter()
        content = image2tensor(Image.open(content_path), max_size=512)
        style = style2tensor(Image.open(style_path), 256)
        model_started = time.perf_counter()
        output = self.engine.stylize(content, [(style, 1.0)])
        model_seconds = time.perf_counter() - model_started
        tensor2image(output)
        return model_seconds, time.perf_counter() - started, content.shape


def wait_until_done(port, location):
    """Follow the transfer's status the way the result page does: each request waits for a change."""
    token = ""
    while True:
        state = json.loads(request(port, "GET", location + "status.json" + (f"?after={token}" if token else ""))[2])
        if state["status"] == "done":
            return
        if state["status"] == "failed":
            raise RuntimeError(f"the transfer failed: {state['error']}")
        token = state["token"]


def site_transfer(port, content_path, style_path, web_processes):
    """One upload to a running site until its result is stored.

    Returns (total seconds, upload request seconds, CPU seconds of ``web_processes`` during
    the upload request, public id, wall-clock times of the upload's start and of the
    status answer that reported it done).
    """
    cpu_before = cpu_seconds(web_processes)
    started, started_clock = time.perf_counter(), time.time()
    status, location = upload_transfer(port, content_path, style_path)
    uploaded = time.perf_counter() - started
    upload_cpu = cpu_seconds(web_processes) - cpu_before
    if status != 302 or "/t/" not in (location or ""):
        raise RuntimeError(f"upload failed: HTTP {status}")
    wait_until_done(port, location)
    return (time.perf_counter() - started, uploaded, upload_cpu, location.rstrip("/").rsplit("/", 1)[1],
            (started_clock, time.time()))


def cpu_seconds(pids):
    """The CPU time of processes ``pids`` so far, all their threads, in seconds (Linux's schedstat, in ns)."""
    total = 0
    for pid in pids:
        for stat in Path(f"/proc/{pid}/task").glob("*/schedstat"):
            try:
                total += int(stat.read_text().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass  # a thread that ended since the listing
    return total / 1e9


#: The stages of a site transfer, from the clocks of the client and the transfer's row.
STAGES = ("upload request", "answered -> claimed", "reading the images", "model", "PNG + storing",
          "rest of the job", "done -> page told")


def stages(database, public_id, uploaded, clocks):
    """The site transfer's time in each of STAGES, in seconds."""
    with sqlite3.connect(database) as connection:
        row = connection.execute(
            "SELECT started_at, finished_at, preprocess_seconds, model_seconds, encode_seconds "
            "FROM tfapp_transfer WHERE public_id = ?", (uuid.UUID(public_id).hex,)).fetchone()
    claimed, finished = (datetime.fromisoformat(value).replace(tzinfo=timezone.utc).timestamp()
                         for value in row[:2])
    preprocess, model, encode = row[2:]
    running = finished - claimed
    return dict(zip(STAGES, (uploaded, claimed - clocks[0] - uploaded, preprocess, model, encode,
                             running - preprocess - model - encode, clocks[1] - finished)))


def wait_for_previews(database, public_id):
    """Until the worker has stored the style preview, the last thing it does for a transfer."""
    with sqlite3.connect(database) as connection:
        while not connection.execute(
                "SELECT 1 FROM tfapp_transferstyle AS style JOIN tfapp_transfer AS transfer "
                "ON style.transfer_id = transfer.id WHERE transfer.public_id = ? AND style.thumbnail != ''",
                (uuid.UUID(public_id).hex,)).fetchone():
            time.sleep(0.005)


def site_processes(server):
    """The server process and its children (the web server and the workers)."""
    return [server.pid, *children(server.pid)]


def children(pid):
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def web_processes(server):
    """gunicorn's processes that serve the pages (the children of the web server, `serve`'s first child)."""
    return children(children(server.pid)[0])


def with_site_paused(processes, work):
    """Run ``work()`` while the site's processes are stopped, so they take no CPU from it."""
    for pid in processes:
        os.kill(pid, signal.SIGSTOP)
    try:
        return work()
    finally:
        for pid in processes:
            os.kill(pid, signal.SIGCONT)


def paired_runs(runs, content_path, style_path, runtime):
    """Alternate the notebook path (with the site paused) and the site, so both meet the same machine."""
    notebook = NotebookPath(runtime)
    results = {"model": [], "notebook": [], "site": [], "upload": [], "upload_cpu": [], "ratio": [], "stages": []}
    with tempfile.TemporaryDirectory() as workdir:
        process, port, ready_seconds = start_server(Path(workdir), {"NST_RUNTIME": runtime}, command="serve")
        try:
            processes, web = site_processes(process), web_processes(process)
            for run in range(runs + 1):
                model, total, shape = with_site_paused(processes, lambda: notebook.run(content_path, style_path))
                site, upload, upload_cpu, public_id, clocks = site_transfer(port, content_path, style_path, web)
                wait_for_previews(Path(workdir) / "db.sqlite3", public_id)
                if run:  # the first pair warms both up
                    measured = (model, total, site, upload, upload_cpu, site / total,
                                stages(Path(workdir) / "db.sqlite3", public_id, upload, clocks))
                    for name, value in zip(results, measured):
                        results[name].append(value)
        finally:
            process.terminate()
            process.wait()
    return results, ready_seconds, shape


def notebook_label(runtime):
    from tfapp import conf
    from tfapp.engines import runtimes

    return runtimes.choose(runtime, conf.precision(), conf.engine_threads()).label


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--content", type=Path, default=CONTENT / "astronaut.png")
    parser.add_argument("--style", type=Path, default=STYLE / "starry_night.jpg")
    parser.add_argument("--runtime", default="", choices=["", "openvino", "litert"],
                        help="NST_RUNTIME of both paths (default: the fastest installed)")
    args = parser.parse_args()
    print_host()

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    django.setup()
    results, ready, shape = paired_runs(args.runs, args.content, args.style, args.runtime)
    print(f"content {args.content.name} at {shape[2]}x{shape[1]}, style {args.style.name} at 256 px, lite engine "
          f"on {notebook_label(args.runtime)}, warm; notebook (site paused) and site runs alternate")
    print(f"model call alone              {summary(results['model'])}")
    print(f"(a) notebook path             {summary(results['notebook'])}")
    print(f"(b) site, HTTP upload->stored {summary(results['site'])}")
    print(f"  of which the upload request {summary(results['upload'])}")
    print(f"  web processes' CPU in it    {summary(results['upload_cpu'])}")
    print(f"ratio (b)/(a) of each pair    median {statistics.median(results['ratio']):.2f}x "
          f"(min {min(results['ratio']):.2f}, max {max(results['ratio']):.2f})")
    print(f"(b) / model call alone        {statistics.median(results['site']) / statistics.median(results['model']):.2f}x "
          f"(medians; the model call without reading the files or making the image)")
    print("the site's median time per stage (client clock and the transfer's recorded times):")
    for stage in STAGES:
        print(f"  {stage:<28}{statistics.median(run[stage] for run in results['stages']) * 1000:6.1f} ms")
    print(f"`serve` start -> serving requests, web process's model loaded: {ready:.2f} s")


if __name__ == "__main__":
    main()
