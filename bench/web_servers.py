"""The production web server against the development server, under visitors while a queue drains.

For each server, `manage.py serve` (gunicorn, or `--dev-server`) runs with the
production settings after collectstatic, with one worker. 100 transfers are
uploaded by 50 visitors (two each, each visitor with its own session), then every
visitor, until its transfers are done, loads a page (`/`, `/gallery/`, its result
page, in turn), asks its transfer's status.json the way the result page does
(with the token it has, so the answer waits for a change: not counted as a page),
and pauses. All traffic goes to 127.0.0.1; each run is bounded by --timeout.

    python bench/web_servers.py [--visitors 50] [--transfers 100] [--timeout 400]

Prints per server: page latency (median, p95, max), errors (HTTP >= 400 or a
failed connection), status polls, transfers done, transfers lost (accepted but
never done), and the median page load of a single visitor before the run (what
the machine gives one request at that moment).
"""
import argparse
import json
import os
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

from bench._common import CONTENT, LITE_DIR, ROOT, STYLE, free_port, multipart, request  # noqa: E402

PHOTO = CONTENT / "chelsea.png"
PAINTING = STYLE / "starry_night.jpg"
#: Seconds a visitor waits between rounds of a page load and a status poll.
VISITOR_PAUSE = 0.5


def start(workdir, dev_server):
    """Collect static files, migrate and start `serve`; returns (process, port) once it answers."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="nst_site.settings.production", DJANGO_SECRET_KEY="bench-" * 10,
               DJANGO_ALLOWED_HOSTS="127.0.0.1", DJANGO_SECURE_COOKIES="0",
               DJANGO_STATIC_ROOT=str(workdir / "static"), NST_ENGINE="lite", NST_LITE_MODEL_DIR=str(LITE_DIR),
               NST_DB_PATH=str(workdir / "db.sqlite3"), NST_MEDIA_ROOT=str(workdir / "media"),
               NST_WORKERS="1", NST_MAX_PENDING_PER_CLIENT="1000", NST_MAX_PENDING_TOTAL="1000")
    env.pop("DATABASE_URL", None)
    manage = [sys.executable, str(ROOT / "manage.py")]
    for command in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run(manage + command, env=env, check=True)
    port = free_port()
    process = subprocess.Popen(manage + ["serve", f"127.0.0.1:{port}"] + (["--dev-server"] if dev_server else []),
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/")[0] == 200:
                return process, port
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("the server did not answer within 60 s")


class Visitor:
    """One browser: a session cookie, its transfers, and what it measured."""

    def __init__(self, port):
        self.port, self.cookie, self.transfers = port, "csrftoken=" + "b" * 32, []
        self.page_seconds, self.errors, self.polls = [], [], 0

    def upload(self):
        body, content_type = multipart({"csrfmiddlewaretoken": "b" * 32}, [
            ("content_image", PHOTO.name, PHOTO.read_bytes()), ("style_image", PAINTING.name, PAINTING.read_bytes())])
        status, headers, _ = self._request("POST", "/", body, {"Content-Type": content_type})
        if status == 302:
            session = headers.get("Set-Cookie", "").split(";")[0]
            if session.startswith("sessionid="):
                self.cookie = f"csrftoken={'b' * 32}; {session}"
            self.transfers.append({"url": headers["Location"], "token": "", "status": "queued"})

    def browse(self, stop):
        pages = ["/", "/gallery/"] + [transfer["url"] for transfer in self.transfers]
        turn = 0
        while not stop.is_set() and any(transfer["status"] not in ("done", "failed") for transfer in self.transfers):
            started = time.perf_counter()
            if self._request("GET", pages[turn % len(pages)])[0] == 200:
                self.page_seconds.append(time.perf_counter() - started)
            turn += 1
            self._poll(next(t for t in self.transfers if t["status"] not in ("done", "failed")))
            time.sleep(VISITOR_PAUSE)

    def _poll(self, transfer):
        path = transfer["url"] + "status.json" + (f"?after={transfer['token']}" if transfer["token"] else "")
        status, _, body = self._request("GET", path)
        self.polls += 1
        if status == 200:
            state = json.loads(body)
            transfer["token"], transfer["status"] = state["token"], state["status"]

    def _request(self, method, path, body=None, headers=None):
        try:
            status, response_headers, data = request(self.port, method, path, body,
                                                     {"Cookie": self.cookie, **(headers or {})})
        except OSError as error:
            self.errors.append(f"{method} {path}: {error}")
            return 0, {}, b""
        if status >= 400:
            self.errors.append(f"{method} {path}: HTTP {status}")
        return status, response_headers, data


def run(dev_server, visitors_count, transfers, timeout):
    with tempfile.TemporaryDirectory() as workdir:
        process, port = start(Path(workdir), dev_server)
        try:
            idle = idle_page_seconds(port)
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
                list(pool.map(lambda visitor: visitor.browse(stop), visitors))
                timer.cancel()
            wall = time.perf_counter() - started
            done = _count(Path(workdir) / "db.sqlite3", "done")
        finally:
            process.terminate()
            process.wait()
    pages = sorted(seconds for visitor in visitors for seconds in visitor.page_seconds)
    accepted = sum(len(visitor.transfers) for visitor in visitors)
    return {"idle": idle, "pages": pages, "errors": [error for visitor in visitors for error in visitor.errors],
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


def _count(database, status):
    with sqlite3.connect(database, timeout=30) as connection:
        return connection.execute("SELECT COUNT(*) FROM tfapp_transfer WHERE status = ?", (status,)).fetchone()[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--transfers", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=400, help="seconds each server's run may take at most")
    args = parser.parse_args()
    print(f"{args.visitors} visitors, {args.transfers} transfers of {PHOTO.name} + {PAINTING.name}, 1 worker, "
          f"pause {VISITOR_PAUSE} s between a visitor's page + status poll")
    print(f"{'server':>12} {'pages':>6} {'median':>8} {'p95':>8} {'max':>8} {'errors':>7} {'polls':>6} "
          f"{'done':>9} {'lost':>5} {'wall':>7} {'idle page':>10}")
    for name, dev_server in (("gunicorn", False), ("runserver", True)):
        result = run(dev_server, args.visitors, args.transfers, args.timeout)
        pages = result["pages"]
        p95 = statistics.quantiles(pages, n=20)[-1] if len(pages) > 1 else float("nan")
        print(f"{name:>12} {len(pages):>6} {statistics.median(pages) * 1000:>6.0f}ms {p95 * 1000:>6.0f}ms "
              f"{pages[-1] * 1000:>6.0f}ms {len(result['errors']):>7} {result['polls']:>6} "
              f"{result['done']:>4}/{result['accepted']:<4} {result['accepted'] - result['done']:>5} "
              f"{result['wall']:>6.1f}s {result['idle'] * 1000:>8.0f}ms")
        for error in result["errors"][:5]:
            print(f"{'':>12} {error}")


if __name__ == "__main__":
    main()
