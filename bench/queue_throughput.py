"""Background workers under load, through `manage.py serve` over real HTTP.

1. N transfers (default 100, 512 px) submitted concurrently: wall time until all are
   done, throughput, none lost; with 1 worker and with 2 workers (and 1 worker using
   both cores), plus p95 latency of page loads while the queue is full and each
   worker's resident memory; for each runtime (``--runtimes``, OpenVINO and LiteRT).
2. One transfer on an idle system: upload until the result page shows the image,
   next to the raw model call (the lecture notebook path).

    python bench/queue_throughput.py [--transfers 100] [--rounds 3] [--runtimes openvino litert]
"""
import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, STYLE, print_host, request, start_server, summary, upload_transfer  # noqa: E402

PHOTO = CONTENT / "astronaut.png"
PAINTING = STYLE / "starry_night.jpg"
PAGES = ["/", "/gallery/"]


def status_of(port, location):
    return json.loads(request(port, "GET", location + "status.json")[2])["status"]


def worker_rss_mib(server_pid):
    """Resident memory of each worker process started by `serve`."""
    sizes = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == server_pid and b"worker" in command:
            status = (stat.parent / "status").read_text()
            sizes.append(int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024)
    return sizes


#: Seconds between a simulated visitor's page loads while the queue is full.
VISITOR_PAUSE = 0.25


def page_latencies(port, stop):
    """A visitor loading the pages, one every VISITOR_PAUSE seconds, until ``stop`` is set."""
    latencies = []
    while not stop.is_set():
        for path in PAGES:
            started = time.perf_counter()
            request(port, "GET", path)
            latencies.append(time.perf_counter() - started)
            time.sleep(VISITOR_PAUSE)
    return latencies


def load_run(count, workers, threads, runtime):
    env = {"NST_WORKERS": str(workers), "NST_ENGINE_THREADS": str(threads), "NST_RUNTIME": runtime,
           "NST_MAX_PENDING_PER_CLIENT": str(count), "NST_MAX_PENDING_TOTAL": str(count)}
    with tempfile.TemporaryDirectory() as workdir:
        process, port, _ = start_server(Path(workdir), env, command="serve")
        try:
            wait_for_workers(port)
            result = measure_load(port, count, Path(workdir) / "db.sqlite3")
            result["rss"] = worker_rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait()
    return result


def measure_load(port, count, database):
    """Submit ``count`` uploads at once and wait for all; page loads are sampled meanwhile."""
    stop = threading.Event()
    with ThreadPoolExecutor(1) as sampler:
        latencies = sampler.submit(page_latencies, port, stop)
        try:
            started = time.perf_counter()
            with ThreadPoolExecutor(count) as pool:
                uploads = list(pool.map(lambda _: upload_transfer(port, PHOTO, PAINTING), range(count)))
            locations = [location for status, location in uploads if status == 302]
            while finished_count(database) < len(locations) + 1:  # + the warm-up transfer
                time.sleep(0.25)
            wall = time.perf_counter() - started
        finally:
            stop.set()
        page_times = latencies.result()
    outcomes = [status_of(port, location) for location in locations]
    refused = sorted({status for status, _ in uploads if status != 302})
    return {"accepted": len(locations), "refused": refused, "done": outcomes.count("done"), "wall": wall,
            "p95": statistics.quantiles(page_times, n=20)[-1]}


def finished_count(database):
    """Transfers done or failed, read from the site's SQLite file (so polling does not load the web server)."""
    with sqlite3.connect(database, timeout=30) as connection:
        return connection.execute("SELECT COUNT(*) FROM tfapp_transfer WHERE status IN ('done', 'failed')").fetchone()[0]


def wait_for_workers(port):
    """One warm-up transfer, so model loading is not part of the timing."""
    status, location = upload_transfer(port, PHOTO, PAINTING)
    while status_of(port, location) not in ("done", "failed"):
        time.sleep(0.1)


def print_load_run(runtime, workers, threads, result):
    rss = ", ".join(f"{size:.0f}" for size in result["rss"]) + " MiB"
    if result["refused"]:
        print(f"  uploads refused with HTTP {result['refused']}")
    print(f"{runtime:>8} {workers:>14} x {threads} {result['done']:>4}/{result['accepted']:<4} {result['wall']:>7.1f}s "
          f"{result['done'] / result['wall']:>7.2f} {result['p95'] * 1000:>7.0f}ms {rss:>16}")


def idle_run(runs, runtime):
    from site_vs_model import wait_until_done

    with tempfile.TemporaryDirectory() as workdir:
        process, port, _ = start_server(Path(workdir), {"NST_WORKERS": "1", "NST_RUNTIME": runtime},
                                        command="serve")
        try:
            wait_for_workers(port)
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                _, location = upload_transfer(port, PHOTO, PAINTING)
                wait_until_done(port, location)  # as the result page follows it
                page = request(port, "GET", location)[2].decode()
                result_url = page.split('id="result-image"')[0].rsplit('src="', 1)[1].split('"')[0]
                request(port, "GET", result_url)
                times.append(time.perf_counter() - started)
        finally:
            process.terminate()
            process.wait()
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=1,
                        help="run the three configurations this many times, in turn, and compare medians "
                             "(this VM's speed drifts over minutes)")
    parser.add_argument("--runtimes", nargs="+", default=["openvino", "litert"], choices=["openvino", "litert"],
                        help="NST_RUNTIME of the served site, each in every round (the first is the one compared "
                             "with the notebook path)")
    args = parser.parse_args()
    print_host()
    print(f"{args.transfers} concurrent uploads of {PHOTO.name} (512x512) + {PAINTING.name}, lite engine")
    print(f"page p95: '/' and '/gallery/' loaded by one visitor every {VISITOR_PAUSE} s while the queue drains")
    print(f"{'runtime':>8} {'workers x threads':>18} {'done':>9} {'wall':>8} {'per s':>7} {'page p95':>9} "
          f"{'worker RSS':>16}")
    throughput = {}
    for _ in range(args.rounds):
        for runtime in args.runtimes:
            for workers, threads in ((1, 1), (1, 2), (2, 1)):
                result = load_run(args.transfers, workers, threads, runtime)
                throughput.setdefault((runtime, workers, threads), []).append(result["done"] / result["wall"])
                print_load_run(runtime, workers, threads, result)
    for runtime in args.runtimes:
        base, best_single, double = (statistics.median(throughput[(runtime, *config)])
                                     for config in ((1, 1), (1, 2), (2, 1)))
        print(f"{runtime} (medians of {args.rounds} round(s)): 2 workers {double:.2f}/s, 2 workers / 1 worker "
              f"(1 thread each): {double / base:.2f}x; "
              f"2 workers / 1 worker using both cores: {double / best_single:.2f}x")
    if len(args.runtimes) > 1:
        first, other = args.runtimes[:2]
        gains = [statistics.median(throughput[(first, *config)]) / statistics.median(throughput[(other, *config)])
                 for config in ((1, 1), (1, 2), (2, 1))]
        print(f"transfers per second, {first} / {other}: 1x1 {gains[0]:.2f}x, 1x2 {gains[1]:.2f}x, 2x1 {gains[2]:.2f}x")
    print()
    from site_vs_model import NotebookPath

    path = NotebookPath(args.runtimes[0])
    notebook = [path.run(PHOTO, PAINTING)[1] for _ in range(args.runs + 1)][1:]
    idle = idle_run(args.runs, args.runtimes[0])
    print(f"idle system ({args.runtimes[0]}), upload -> result page and image loaded: {summary(idle)}")
    print(f"raw model call, notebook path:                       {summary(notebook)}")
    print(f"difference of medians: {statistics.median(idle) - statistics.median(notebook):+.3f} s")


if __name__ == "__main__":
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    django.setup()
    main()
