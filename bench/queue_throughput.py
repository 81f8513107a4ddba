"""Background workers under load, through `manage.py serve` over real HTTP.

1. Saturation: N transfers (default 100, 512 px) are uploaded concurrently while the
   workers are paused (SIGSTOP), then the workers go on and drain the full queue. Printed:
   the drain's throughput (transfers finished per second, from the rows' finish times),
   page loads' p95 while it drains, none lost, each worker's resident memory; and the
   throughput as a share of back-to-back model calls: the same worker processes and
   threads (``NST_ENGINE_THREADS``), the same runtime and precision, calling the engine
   on the same decoded 512 px photo and painting (the painting's style vector computed
   each call, as for an upload) as fast as they can, measured in the same run just
   before and just after (their mean). That share is how busy the site keeps the model; the rest is the site's
   work around it. For each configuration in ``--configs`` and runtime in ``--runtimes``.
2. One transfer on an idle system: upload until the result page shows the image,
   next to the raw model call (the lecture notebook path).

    python bench/queue_throughput.py [--transfers 100] [--rounds 1] [--runtimes openvino litert] [--configs 1x2 1x1 2x1]
"""
import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, MODEL_ENV, STYLE, print_host, request, start_server, summary, upload_transfer  # noqa: E402

PHOTO = CONTENT / "astronaut.png"
PAINTING = STYLE / "starry_night.jpg"
PAGES = ["/", "/gallery/"]


def status_of(port, location):
    return json.loads(request(port, "GET", location + "status.json")[2])["status"]


def worker_pids(server_pid, queue=None):
    """The worker processes started by `serve` (its children whose command is ``manage.py worker``), of ``queue``."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue
        if parent == server_pid and b"worker" in command and (queue is None or queue.encode() in command):
            pids.append(int(stat.parent.name))
    return pids


def cpu_seconds(pids):
    """User + system CPU seconds the processes have used so far (threads included)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def worker_rss_mib(pids):
    """Resident memory of each process, in MiB."""
    sizes = []
    for pid in pids:
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024)
    return sizes


#: Seconds between a simulated visitor's page loads while the queue is full.
VISITOR_PAUSE = 0.25


def page_latencies(port, stop):
    """A visitor loading the pages, one every VISITOR_PAUSE seconds, until ``stop`` is set: (start, seconds) pairs."""
    latencies = []
    while not stop.is_set():
        for path in PAGES:
            started = time.perf_counter()
            request(port, "GET", path)
            latencies.append((started, time.perf_counter() - started))
            time.sleep(VISITOR_PAUSE)
    return latencies


def site_env(count, workers, threads, runtime):
    return {"NST_WORKERS": str(workers), "NST_ENGINE_THREADS": str(threads), "NST_RUNTIME": runtime,
            "NST_MAX_PENDING_PER_CLIENT": str(count), "NST_MAX_PENDING_TOTAL": str(count)}


def load_run(count, workers, threads, runtime, extra_env=None):
    with tempfile.TemporaryDirectory() as workdir:
        env = {**site_env(count, workers, threads, runtime), **(extra_env or {})}
        process, port, _ = start_server(Path(workdir), env, command="serve")
        try:
            wait_for_workers(port)
            pids = worker_pids(process.pid)
            result = measure_load(port, count, Path(workdir) / "db.sqlite3", pids, worker_pids(process.pid, "default"))
            result["rss"] = worker_rss_mib(pids)
        finally:
            process.terminate()
            process.wait()
    return result


def measure_load(port, count, database, pids, fast_pids):
    """Upload ``count`` transfers at once with the workers (``pids``) paused, then let them drain the queue.

    Page loads are sampled throughout; only those started while the queue drains count.
    ``cpu`` is the CPU time the fast-queue workers (``fast_pids``) used meanwhile.
    """
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        with ThreadPoolExecutor(count) as pool:
            uploads = list(pool.map(lambda _: upload_transfer(port, PHOTO, PAINTING), range(count)))
    finally:
        stop = threading.Event()
        with ThreadPoolExecutor(1) as sampler:
            latencies = sampler.submit(page_latencies, port, stop)
            try:
                resumed, resumed_clock, cpu_before = time.perf_counter(), time.time(), cpu_seconds(fast_pids)
                for pid in pids:
                    os.kill(pid, signal.SIGCONT)
                locations = [location for status, location in uploads if status == 302]
                while finished_count(database) < len(locations) + 1:  # + the warm-up transfer
                    time.sleep(0.1)
                time.sleep(0.5)  # the last transfer's previews
                cpu = cpu_seconds(fast_pids) - cpu_before
            finally:
                stop.set()
            page_times = [seconds for started, seconds in latencies.result() if started >= resumed]
    outcomes = [status_of(port, location) for location in locations]
    refused = sorted({status for status, _ in uploads if status != 302})
    drain = last_finished(database) - resumed_clock
    return {"accepted": len(locations), "refused": refused, "done": outcomes.count("done"), "cpu": cpu,
            "drain": drain, "busy": model_seconds(database, resumed_clock) / drain / len(fast_pids),
            "p95": statistics.quantiles(page_times, n=20)[-1] if len(page_times) > 1 else max(page_times)}


def finished_count(database):
    """Transfers done or failed, read from the site's SQLite file (so polling does not load the web server)."""
    with sqlite3.connect(database, timeout=30) as connection:
        return connection.execute("SELECT COUNT(*) FROM tfapp_transfer WHERE status IN ('done', 'failed')").fetchone()[0]


def last_finished(database):
    """When the last transfer finished (its row's UTC time), as a Unix time."""
    with sqlite3.connect(database, timeout=30) as connection:
        value = connection.execute("SELECT MAX(finished_at) FROM tfapp_transfer").fetchone()[0]
    return datetime.fromisoformat(value).replace(tzinfo=timezone.utc).timestamp()


def model_seconds(database, since):
    """The model seconds the transfers finished since ``since`` (a Unix time) recorded, summed."""
    with sqlite3.connect(database, timeout=30) as connection:
        rows = connection.execute("SELECT finished_at, model_seconds FROM tfapp_transfer WHERE status = 'done'")
        return sum(seconds for finished, seconds in rows
                   if datetime.fromisoformat(finished).replace(tzinfo=timezone.utc).timestamp() >= since)


def wait_for_workers(port):
    """One warm-up transfer, so model loading is not part of the timing."""
    status, location = upload_transfer(port, PHOTO, PAINTING)
    while status_of(port, location) not in ("done", "failed"):
        time.sleep(0.1)


#: Model calls each process makes in a back-to-back measurement (after two to warm up).
BACK_TO_BACK_CALLS = 60


def back_to_back(workers, threads, runtime):
    """Model calls per second of ``workers`` processes calling the engine back to back at once, as workers would.

    Returns that rate and the CPU seconds a call takes (all its threads). Each process
    loads the method the way a worker does (same settings), decodes the
    photo and painting once, and then, when all are ready, times BACK_TO_BACK_CALLS calls.
    """
    env = dict(os.environ, **MODEL_ENV, **site_env(1, workers, threads, runtime))
    children = [subprocess.Popen([sys.executable, __file__, "--model-calls", str(BACK_TO_BACK_CALLS)], env=env,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) for _ in range(workers)]
    for child in children:
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("a back-to-back process did not start")
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    measured = [[float(number) for number in child.communicate()[0].split()] for child in children]
    return (sum(BACK_TO_BACK_CALLS / elapsed for elapsed, _ in measured),
            statistics.mean(cpu for _, cpu in measured) / BACK_TO_BACK_CALLS)


def model_calls(calls):
    """In a child process: load the method as a worker does, then time ``calls`` calls when told to go."""
    from PIL import Image

    from tfapp import conf, engines
    from tfapp.imaging import image2tensor, style2tensor

    method = engines.get("magenta")
    content = image2tensor(Image.open(PHOTO).convert("RGB"), conf.max_content_size())
    style = style2tensor(Image.open(PAINTING).convert("RGB"), conf.style_size(), conf.style_pooling())
    for _ in range(2):
        method.stylize(content, [(style, 1.0)])
    print("ready", flush=True)
    sys.stdin.readline()
    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        method.stylize(content, [(style, 1.0)])
    print(time.perf_counter() - started, time.process_time() - cpu, flush=True)


def print_load_run(runtime, workers, threads, result, model_rate, model_cpu):
    rss = ", ".join(f"{size:.0f}" for size in result["rss"]) + " MiB"
    cpu = result["cpu"] / result["done"]
    if result["refused"]:
        print(f"  uploads refused with HTTP {result['refused']}")
    rate = result["done"] / result["drain"]
    print(f"{runtime:>8} {workers:>14} x {threads} {result['done']:>4}/{result['accepted']:<4} {result['drain']:>7.1f}s "
          f"{rate:>7.2f} {model_rate:>9.2f} {rate / model_rate:>6.0%} {result['busy']:>5.0%} "
          f"{result['p95'] * 1000:>7.0f}ms "
          f"{cpu * 1000:>6.0f} {(cpu - model_cpu) * 1000:>6.0f}ms {rss:>16}")


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
                        help="run the configurations this many times, in turn, and print medians "
                             "(this VM's speed drifts over minutes)")
    parser.add_argument("--runtimes", nargs="+", default=["openvino", "litert"], choices=["openvino", "litert"],
                        help="NST_RUNTIME of the served site, each in every round (the first is the one compared "
                             "with the notebook path)")
    parser.add_argument("--configs", nargs="+", default=["1x2", "1x1", "2x1"],
                        help="workers x threads each (NST_WORKERS x NST_ENGINE_THREADS)")
    parser.add_argument("--no-idle", action="store_true", help="skip part 2 (one transfer on an idle system)")
    args = parser.parse_args()
    configs = [tuple(int(number) for number in config.split("x")) for config in args.configs]
    print_host()
    print(f"{args.transfers} uploads of {PHOTO.name} (512x512) + {PAINTING.name} queued with the workers paused, "
          f"then drained; Magenta (lite engine)")
    print(f"page p95: '/' and '/gallery/' loaded by one visitor every {VISITOR_PAUSE} s while the queue drains; "
          f"model/s: back-to-back model calls of the same processes and threads, just before and after (mean);")
    print("share: per s / model/s; busy: the share of the drain each worker spent in model calls (their own "
          "timing, recorded on the transfers)")
    print("worker CPU: the workers' CPU time per transfer while draining, and what of it is not the model call's "
          "(CPU per back-to-back call): figures that a busy host disturbs less than wall-clock ones")
    print(f"{'runtime':>8} {'workers x threads':>18} {'done':>9} {'drain':>8} {'per s':>7} {'model/s':>9} "
          f"{'share':>6} {'busy':>5} {'page p95':>9} {'worker CPU, not model':>21} {'worker RSS':>16}")
    shares = {}
    for _ in range(args.rounds):
        for runtime in args.runtimes:
            for workers, threads in configs:
                # Back-to-back calls just before and just after the drain, averaged: on a shared
                # machine the load drifts over the minute the drain and its set-up take.
                before = back_to_back(workers, threads, runtime)
                result = load_run(args.transfers, workers, threads, runtime)
                after = back_to_back(workers, threads, runtime)
                model_rate, model_cpu = ((first + second) / 2 for first, second in zip(before, after))
                rate = result["done"] / result["drain"]
                shares.setdefault((runtime, workers, threads), []).append((rate, rate / model_rate, result["p95"]))
                print_load_run(runtime, workers, threads, result, model_rate, model_cpu)
    for (runtime, workers, threads), figures in shares.items():
        rate, share, p95 = (statistics.median(values) for values in zip(*figures))
        print(f"{runtime} {workers} x {threads} (medians of {len(figures)} round(s)): {rate:.2f} transfers/s, "
              f"{share:.0%} of back-to-back model calls, page p95 {p95 * 1000:.0f} ms while the queue drains")
    if args.no_idle:
        return
    print()
    from site_vs_model import NotebookPath

    path = NotebookPath(args.runtimes[0])
    notebook = [path.run(PHOTO, PAINTING)[1] for _ in range(args.runs + 1)][1:]
    idle = idle_run(args.runs, args.runtimes[0])
    print(f"idle system ({args.runtimes[0]}), upload -> result page and image loaded: {summary(idle)}")
    print(f"raw model call, notebook path:                       {summary(notebook)}")
    print(f"difference of medians: {statistics.median(idle) - statistics.median(notebook):+.3f} s")


if __name__ == "__main__":
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "nst_site.settings.development")
    django.setup()
    if sys.argv[1:2] == ["--model-calls"]:
        model_calls(int(sys.argv[2]))
    else:
        main()
