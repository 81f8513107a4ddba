"""Soak the job lifecycle: many transfers through the API to two workers, one of them killed now and then.

Starts the site (the development server) and two ``manage.py worker`` processes on
a fresh database, submits ``--transfers`` transfers of 256 px photos (Magenta and
AdaIN in turn, several paintings) through ``POST /api/transfers`` with a token, and
meanwhile, in ``--kill-share`` of every ``--period`` seconds, kills one worker
(chosen at random) with SIGKILL at a random moment and starts it again at once.
Workers use a short heartbeat (1 s) and recovery window (``NST_STALE_AFTER`` 4 s),
as a deployment under test would. Gatys is left out: it runs in the slow queue, for
minutes. When every transfer has finished, or none has changed for a while, prints:

- done, failed (with each reason and its count), lost (never finished);
- run twice to completion: transfers whose model ran to the end in more than one
  attempt (read from the workers' logs: wasted work, never a second result);
- stray files: files under ``media/transfers/`` that no row points to, and rows
  whose files are missing;
- the time it took, and how many workers were killed.

    python bench/soak.py [--transfers 1000] [--period 6] [--kill-share 0.33] [--seed 0]
"""
import argparse
import collections
import io
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, MODEL_ENV, ROOT, STYLE, multipart, print_host, request, start_server  # noqa: E402

METHODS = ("magenta", "adain")
PAINTINGS = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg", "woman_with_hat.jpg")
STYLIZED = re.compile(r"Transfer ([0-9a-f-]{36}) stylized by attempt (\d+)")
#: Settings of the site and workers under test: quick recovery, and no limit on how much is queued.
SOAK_ENV = {"NST_HEARTBEAT_SECONDS": "1", "NST_STALE_AFTER": "4", "NST_MAX_PENDING_PER_CLIENT": "100000",
            "NST_MAX_PENDING_TOTAL": "100000", "NST_API_RATE_LIMIT": "1000000", "NST_WORKER_NICE": "0"}


def images(size):
    """The shared photos at ``size`` px and the paintings at 256 px, as PNG bytes."""
    from PIL import Image

    def png(path, side):
        image = Image.open(path).convert("RGB")
        image.thumbnail((side, side))
        buffer = io.BytesIO()
        image.save(buffer, "PNG")
        return buffer.getvalue()

    return ([png(path, size) for path in sorted(CONTENT.glob("*.png"))],
            [png(STYLE / name, 256) for name in PAINTINGS])


class Worker:
    """One ``manage.py worker`` process, started again after each kill; its logs go to one file."""

    def __init__(self, index, env, workdir):
        self.env, self.log = env, workdir / f"worker-{index}.log"
        self.process = None
        self.start()

    def start(self):
        with open(self.log, "a") as log:
            self.process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "worker", "--queues", "default"],
                                            env=self.env, stdout=log, stderr=log)

    def kill_and_restart(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self.start()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def killer(workers, stop, period, share, rng, kills):
    """In ``share`` of every ``period`` seconds, SIGKILL one worker at a random moment and restart it."""
    while not stop.is_set():
        moment = rng.uniform(0, period)
        kill = rng.random() < share
        if stop.wait(moment):
            return
        if kill:
            rng.choice(workers).kill_and_restart()
            kills.append(time.monotonic())
        stop.wait(period - moment)


def token(env):
    """A user and an API token for them, made in the site's database."""
    code = ("from django.contrib.auth.models import User; from tfapp.models import ApiToken; "
            "print(ApiToken.issue(User.objects.create_user('soak'), 'soak')[1])")
    return subprocess.run([sys.executable, str(ROOT / "manage.py"), "shell", "-c", code], env=env, check=True,
                          capture_output=True, text=True).stdout.split()[-1]


def submit(port, key, index, photos, paintings):
    """POST one transfer; returns its public id, or the error status."""
    body, content_type = multipart({"method": METHODS[index % len(METHODS)]}, [
        ("content_image", "photo.png", photos[index % len(photos)]),
        ("style_image", "painting.png", paintings[index % len(paintings)])])
    status, _, data = request(port, "POST", "/api/transfers", body,
                              {"Content-Type": content_type, "Authorization": f"Bearer {key}"})
    return json.loads(data)["id"] if status == 201 else f"HTTP {status}"


def outcomes(database):
    """``{public id: (status, error message)}`` of every transfer, read straight from the SQLite file."""
    with sqlite3.connect(database, timeout=30) as connection:
        rows = connection.execute("SELECT public_id, status, error_message FROM tfapp_transfer").fetchall()
    return {_dashed(public_id): (status, error) for public_id, status, error in rows}


def wait_until_settled(database, count, quiet_for):
    """Wait until ``count`` transfers are done or failed, or none has changed for ``quiet_for`` seconds."""
    last, changed_at = None, time.monotonic()
    while time.monotonic() - changed_at < quiet_for:
        states = outcomes(database)
        finished = sum(status in ("done", "failed") for status, _ in states.values())
        if finished >= count:
            return
        if states != last:
            last, changed_at = states, time.monotonic()
        time.sleep(1)


def stray_files(database, media):
    """Files under media/transfers that no row points to, and files rows point to that are missing."""
    with sqlite3.connect(database, timeout=30) as connection:
        referenced = {name for row in connection.execute(
            "SELECT content_image, result_image, content_thumbnail, result_thumbnail, preview_image "
            "FROM tfapp_transfer UNION ALL SELECT image, thumbnail, '', '', '' FROM tfapp_transferstyle")
            for name in row if name}
    on_disk = {str(path.relative_to(media)) for path in (media / "transfers").rglob("*") if path.is_file()}
    return sorted(on_disk - referenced), sorted(referenced - on_disk)


def model_runs(logs):
    """``{public id: attempts whose model ran to the end}``, from the workers' logs."""
    attempts = collections.defaultdict(set)
    for log in logs:
        for public_id, attempt in STYLIZED.findall(log.read_text(errors="replace")):
            attempts[public_id].add(attempt)
    return attempts


def _dashed(public_id):
    text = str(public_id).replace("-", "")
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=1000)
    parser.add_argument("--size", type=int, default=256, help="long side of the photos")
    parser.add_argument("--period", type=float, default=6.0)
    parser.add_argument("--kill-share", type=float, default=0.33)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print_host()
    rng = random.Random(args.seed)
    photos, paintings = images(args.size)
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        web, port, _ = start_server(workdir, SOAK_ENV)
        env = dict(os.environ, **MODEL_ENV, **SOAK_ENV, NST_DB_PATH=str(workdir / "db.sqlite3"),
                   NST_MEDIA_ROOT=str(workdir / "media"))
        key = token(env)
        workers = [Worker(index, env, workdir) for index in range(2)]
        stop, kills = threading.Event(), []
        chaos = threading.Thread(target=killer, args=(workers, stop, args.period, args.kill_share, rng, kills))
        started = time.monotonic()
        chaos.start()
        try:
            with ThreadPoolExecutor(4) as pool:
                submitted = list(pool.map(lambda index: submit(port, key, index, photos, paintings),
                                          range(args.transfers)))
            accepted = [public_id for public_id in submitted if not public_id.startswith("HTTP")]
            wait_until_settled(workdir / "db.sqlite3", len(accepted), quiet_for=60)
            took = time.monotonic() - started
        finally:
            stop.set()
            chaos.join()
            for worker in workers:
                worker.stop()
            web.terminate()
            web.wait()
        report(workdir, submitted, accepted, took, kills)


def report(workdir, submitted, accepted, took, kills):
    states = outcomes(workdir / "db.sqlite3")
    refused = collections.Counter(public_id for public_id in submitted if public_id.startswith("HTTP"))
    done = [public_id for public_id in accepted if states[public_id][0] == "done"]
    failed = collections.Counter(states[public_id][1] for public_id in accepted if states[public_id][0] == "failed")
    lost = [public_id for public_id in accepted if states[public_id][0] not in ("done", "failed")]
    stray, missing = stray_files(workdir / "db.sqlite3", workdir / "media")
    runs = model_runs(sorted(workdir.glob("worker-*.log")))
    twice = [public_id for public_id, attempts in runs.items() if len(attempts) > 1]
    print(f"submitted {len(submitted)}, accepted {len(accepted)}" +
          (f", refused {dict(refused)}" if refused else ""))
    print(f"done {len(done)}, failed {sum(failed.values())}, lost {len(lost)}")
    for reason, count in failed.most_common():
        print(f"  failed x{count}: {reason}")
    # Every done transfer's model run is logged; fewer logged runs would mean this count cannot see them.
    print(f"run twice to completion: {len(twice)} (model runs logged: {sum(map(len, runs.values()))}, "
          f"for {len(runs)} transfers)")
    print(f"stray files: {len(stray)}" + (f" (e.g. {stray[:3]})" if stray else "") +
          f"; rows with missing files: {len(missing)}" + (f" (e.g. {missing[:3]})" if missing else ""))
    print(f"workers killed: {len(kills)}; took {took:.0f} s ({len(accepted) / took:.2f} transfers/s)")


if __name__ == "__main__":
    main()
