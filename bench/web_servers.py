"""The production web server against the development server, under visitors while a queue drains.

For each server, `manage.py serve` (gunicorn, or `--dev-server`) runs with the
production settings after collectstatic, with one worker and every method's weights
(../shared copies); the run begins once the machine is quiet after the start. 100 transfers are
uploaded by 50 visitors (two each, each visitor with its own session). Then each
visitor, until its transfers are done, does what a person with the result page
open in one tab and browsing in another does:
- the result page's script (static/tfapp/js/progress.js): asks status.json with the
  token it has (the answer waits for a change), asks again at once after each answer
  (at most once a second while second or further back in the queue), and reloads the
  page when the transfer is done (a page load), then follows the visitor's next transfer;
- browsing: loads a page (`/`, `/gallery/`, its result pages, in turn), reads it for
  a random 0.5-1.5 s, and loads the next; the first page comes 0-1.5 s after the
  uploads, so visitors do not move in step.
Each visitor keeps its connections alive, as a browser does (one for the page's
script, one for browsing). All traffic goes to 127.0.0.1; each run is bounded by --timeout.

    python bench/web_servers.py [--visitors 50] [--transfers 100] [--timeout 400] [--servers gunicorn runserver]
                                [--rounds 1] [--setups "NAME VAR=VALUE ..." ...]

``--setups`` compares set-ups of the production server instead of the two servers:
each is a name and the settings it runs with, e.g.
``--setups "2x64 NST_WEB_PROCESSES=2 NST_WEB_THREADS=64" "3x32 NST_WEB_PROCESSES=3 NST_WEB_THREADS=32"``.

Prints per server: page latency (median, p95, max), errors (HTTP >= 400 or a
failed connection), status answers, transfers done, transfers lost (accepted but
never done), the median page load of a single visitor before the run (what
the machine gives one request at that moment), the seconds from starting
`serve` until it was quiet, and the CPU seconds the web server, the workers and
the visitors (this process) used during the run.
"""
import argparse
import http.client
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import (CONTENT, MODEL_ENV, ROOT, STYLE, free_port, multipart, print_host, request,  # noqa: E402
                           wait_until_quiet)

PHOTO = CONTENT / "chelsea.png"
PAINTING = STYLE / "starry_night.jpg"
#: Seconds a visitor spends on a page before loading the next: uniformly random in this range.
THINK_SECONDS = (0.5, 1.5)
#: What each page is called in the figures (any other page is a result page).
PAGE_KINDS = {"/": "home", "/gallery/": "gallery"}
#: Seconds the result page's script waits before asking again after a failed request.
RETRY_SECONDS = 3
#: Seconds between the script's requests while its transfer is second or further back in the queue.
QUEUE_PACE_SECONDS = 1.0
#: The servers compared: name -> whether it is the development server.
SERVERS = {"gunicorn": False, "runserver": True}


def start(workdir, dev_server, settings=None):
    """Collect static files, migrate and start `serve`; returns (process, port, seconds) once it is quiet.

    The seconds are from starting `serve` until its web processes and worker have
    finished starting (the machine is idle again), when the figures begin. ``settings``
    are environment variables for `serve` on top of the benchmark's own.
    """
    env = dict(os.environ, **MODEL_ENV, DJANGO_SETTINGS_MODULE="nst_site.settings.production",
               DJANGO_SECRET_KEY="bench-" * 10, DJANGO_ALLOWED_HOSTS="127.0.0.1", DJANGO_SECURE_COOKIES="0",
               DJANGO_STATIC_ROOT=str(workdir / "static"), NST_DB_PATH=str(workdir / "db.sqlite3"), NST_MEDIA_ROOT=str(workdir / "media"),
               NST_WORKERS="1", NST_MAX_PENDING_PER_CLIENT="1000", NST_MAX_PENDING_TOTAL="1000")
    env.update(settings or {})
    env.pop("DATABASE_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run(manage + command, env=env, check=True)
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(manage + ["serve", f"127.0.0.1:{port}"] + (["--dev-server"] if dev_server else []),
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.monotonic() < started + 60:
        try:
            if request(port, "GET", "/")[0] == 200:
                wait_until_quiet()
                return process, port, time.monotonic() - started
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not answer within 60 s")


class Visitor:
    """One browser: a session cookie, its transfers, and what it measured."""

    def __init__(self, port):
        self.port, self.cookie, self.transfers = port, "csrftoken=" + "b" * 32, []
        self.page_seconds, self.errors, self.polls = [], [], 0
        self._connections = {}  # thread -> its kept-alive connection, as a browser keeps one per tab

    def upload(self):
        body, content_type = multipart({"csrfmiddlewaretoken": "b" * 32}, [
            ("content_image", PHOTO.name, PHOTO.read_bytes()), ("style_image", PAINTING.name, PAINTING.read_bytes())])
        status, headers, _ = self._request("POST", "/", body, {"Content-Type": content_type})
        if status == 302:
            session = headers.get("Set-Cookie", "").split(";")[0]
            if session.startswith("sessionid="):
                self.cookie = f"csrftoken={'b' * 32}; {session}"
            self.transfers.append({"url": headers["Location"], "token": "", "status": "queued"})

    def browse(self, stop, seed):
        """Load the pages in turn, reading each for a while, until the visitor's transfers are done."""
        pause = random.Random(seed)
        pages = ["/", "/gallery/"] + [transfer["url"] for transfer in self.transfers]
        stop.wait(pause.uniform(0, THINK_SECONDS[1]))
        turn = 0
        while not stop.is_set() and not self._finished():
            self._load(pages[turn % len(pages)])
            turn += 1
            stop.wait(pause.uniform(*THINK_SECONDS))

    def watch(self, stop):
        """What the result page's script does, for each transfer in turn: follow it, and reload when it ends."""
        for transfer in self.transfers:
            while not stop.is_set() and transfer["status"] not in ("done", "failed"):
                if not self._poll(transfer, stop):
                    stop.wait(RETRY_SECONDS)
            if not stop.is_set():
                self._load(transfer["url"])

    def _finished(self):
        return all(transfer["status"] in ("done", "failed") for transfer in self.transfers)

    def _load(self, path):
        started = time.perf_counter()
        if self._request("GET", path)[0] == 200:
            self.page_seconds.append((PAGE_KINDS.get(path, "result"), time.perf_counter() - started))

    def _poll(self, transfer, stop):
        started = time.perf_counter()
        path = transfer["url"] + "status.json" + (f"?after={transfer['token']}" if transfer["token"] else "")
        status, _, body = self._request("GET", path)
        self.polls += 1
        if status == 200:
            state = json.loads(body)
            transfer["token"], transfer["status"] = state["token"], state["status"]
            if state["status"] == "queued" and (state["queue_position"] or 0) > 1:
                stop.wait(QUEUE_PACE_SECONDS - (time.perf_counter() - started))
        return status == 200

    def _request(self, method, path, body=None, headers=None):
        """One request on this thread's kept-alive connection, as a browser sends it (reconnecting once if it was closed)."""
        headers = {"Cookie": self.cookie, **(headers or {})}
        thread = threading.get_ident()
        try:
            try:
                status, response_headers, data = self._send(thread, method, path, body, headers)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # The server closed an idle kept-alive connection: a browser opens a new one and asks again.
                self._connections.pop(thread).close()
                status, response_headers, data = self._send(thread, method, path, body, headers)
        except (OSError, http.client.HTTPException) as error:
            self._connections.pop(thread, None)
            self.errors.append(f"{method} {path}: {error}")
            return 0, {}, b""
        if status >= 400:
            self.errors.append(f"{method} {path}: HTTP {status}")
        return status, response_headers, data

    def _send(self, thread, method, path, body, headers):
        if thread not in self._connections:
            self._connections[thread] = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        connection = self._connections[thread]
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        if response.will_close:
            self._connections.pop(thread).close()
        return response.status, dict(response.getheaders()), data


def run(dev_server, visitors_count, transfers, timeout, settings=None):
    with tempfile.TemporaryDirectory() as workdir:
        process, port, start_seconds = start(Path(workdir), dev_server, settings)
        try:
            idle = idle_page_seconds(port)
            cpu_before = _cpu_by_role(process.pid)
            visitors = [Visitor(port) for _ in range(visitors_count)]
            started = time.perf_counter()
            with ThreadPoolExecutor(visitors_count) as pool:
                # Each visitor uploads its share one after the other, so they all land in its one session.
                shares = [transfers // visitors_count + (index < transfers % visitors_count)
                          for index in range(visitors_count)]
                list(pool.map(lambda visitor, share: [visitor.upload() for _ in range(share)], visitors, shares))
            stop = threading.Event()
            timer = threading.Timer(timeout, stop.set)
            timer.start()
            with ThreadPoolExecutor(2 * visitors_count) as pool:
                browsing = [pool.submit(visitor.browse, stop, seed) for seed, visitor in enumerate(visitors)]
                watching = [pool.submit(visitor.watch, stop) for visitor in visitors]
                for future in browsing + watching:
                    future.result()
            timer.cancel()
            wall = time.perf_counter() - started
            cpu = {role: seconds - cpu_before.get(role, 0) for role, seconds in _cpu_by_role(process.pid).items()}
            done = _count(Path(workdir) / "db.sqlite3", "done")
        finally:
            process.terminate()
            process.wait()
    pages = sorted(seconds for visitor in visitors for _, seconds in visitor.page_seconds)
    kinds = {kind: sorted(seconds for visitor in visitors for each, seconds in visitor.page_seconds if each == kind)
             for kind in [*PAGE_KINDS.values(), "result"]}
    accepted = sum(len(visitor.transfers) for visitor in visitors)
    return {"cpu": cpu, "start": start_seconds, "idle": idle, "pages": pages, "kinds": kinds, "errors": [error for visitor in visitors for error in visitor.errors],
            "polls": sum(visitor.polls for visitor in visitors), "accepted": accepted, "done": done, "wall": wall}


def idle_page_seconds(port, rounds=10):
    """Median time of one page load with nothing else going on: what this machine gives a single visitor."""
    seconds = []
    for _ in range(rounds):
        for path in ("/", "/gallery/"):
            started = time.perf_counter()
            request(port, "GET", path)
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _cpu_by_role(root):
    """CPU seconds used so far by the processes under ``root``, by role: web server, workers, and this benchmark."""
    parents, used, roles = {}, {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            command = (stat.parent / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        fields = text.rsplit(")", 1)[1].split()
        pid = int(stat.parent.name)
        parents[pid], used[pid] = int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        roles[pid] = "workers" if "\0worker\0" in command else "web"
    totals = {"web": 0.0, "workers": 0.0, "visitors": used.get(os.getpid(), 0.0)}
    for pid in used:
        ancestor = parents.get(pid)
        while ancestor and ancestor != root:
            ancestor = parents.get(ancestor)
        if ancestor == root:
            totals[roles[pid]] += used[pid]
    return totals


def _count(database, status):
    with sqlite3.connect(database, timeout=30) as connection:
        return connection.execute("SELECT COUNT(*) FROM tfapp_transfer WHERE status = ?", (status,)).fetchone()[0]


def _p95(seconds):
    return statistics.quantiles(seconds, n=20)[-1] if len(seconds) > 1 else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--transfers", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=400, help="seconds each server's run may take at most")
    parser.add_argument("--servers", nargs="+", choices=SERVERS, default=list(SERVERS))
    parser.add_argument("--rounds", type=int, default=1,
                        help="runs of each server, in turns; the last line gives each server's median p95")
    parser.add_argument("--setups", nargs="+", metavar="NAME VAR=VALUE",
                        help="compare these set-ups of the production server instead of the servers")
    args = parser.parse_args()
    print_host()
    # name -> (whether it is the development server, settings for serve)
    runs = {name: (SERVERS[name], {}) for name in args.servers}
    if args.setups:
        runs = {name: (False, dict(setting.split("=", 1) for setting in settings))
                for name, *settings in (setup.split() for setup in args.setups)}
    print(f"{args.visitors} visitors, {args.transfers} transfers of {PHOTO.name} + {PAINTING.name}, 1 worker; "
          f"each visitor follows its result page and reads pages for {THINK_SECONDS[0]}-{THINK_SECONDS[1]} s")
    print(f"{'server':>12} {'pages':>6} {'median':>8} {'p95':>8} {'max':>8} {'errors':>7} {'status':>6} "
          f"{'done':>9} {'lost':>5} {'wall':>7} {'idle page':>10} {'start':>7}")
    p95s = {name: [] for name in runs}
    for name in [name for _ in range(args.rounds) for name in runs]:
        dev_server, settings = runs[name]
        result = run(dev_server, args.visitors, args.transfers, args.timeout, settings)
        pages = result["pages"]
        p95 = _p95(pages)
        p95s[name].append(p95)
        print(f"{name:>12} {len(pages):>6} {statistics.median(pages) * 1000:>6.0f}ms {p95 * 1000:>6.0f}ms "
              f"{pages[-1] * 1000:>6.0f}ms {len(result['errors']):>7} {result['polls']:>6} "
              f"{result['done']:>4}/{result['accepted']:<4} {result['accepted'] - result['done']:>5} "
              f"{result['wall']:>6.1f}s {result['idle'] * 1000:>8.0f}ms {result['start']:>6.1f}s")
        print(f"{'':>12} CPU seconds during the run: " + ", ".join(f"{role} {seconds:.1f}"
                                                                  for role, seconds in result["cpu"].items()))
        print(f"{'':>12} p95 by page: " + ", ".join(f"{kind} {_p95(seconds) * 1000:.0f}ms (n={len(seconds)})"
                                                  for kind, seconds in result["kinds"].items()))
        for error in result["errors"][:5]:
            print(f"{'':>12} {error}")
    if args.rounds > 1:
        print("median p95 over the rounds: " + ", ".join(
            f"{name} {statistics.median(values) * 1000:.0f} ms ({', '.join(f'{value * 1000:.0f}' for value in values)})"
            for name, values in p95s.items()))


if __name__ == "__main__":
    main()
