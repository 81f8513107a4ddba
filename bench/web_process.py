"""What a web process costs, and how fast the command line starts, for this checkout or another.

1. `manage.py serve` (production settings, gunicorn, its default web processes and one
   fast and one slow worker) on a fresh database: seconds from starting it until the
   upload page answers (every method's availability is known by then), then, after
   every page has been loaded a few times and the workers have warmed up, the resident
   memory of each process it started, by role.
2. `manage.py stylize` of a 512 px photo with Magenta (the lite engine) as a whole
   process, start to exit, ``--runs`` times: the median.

``--root`` measures another checkout of the project (e.g. an older commit in a git
worktree) with this script, so two commits are compared on one machine in one sitting.

    python bench/web_process.py [--root PATH] [--runs 3]
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import CONTENT, MODEL_ENV, ROOT, STYLE, free_port, print_host, request, wait_until_quiet  # noqa: E402

PAGES = ("/", "/gallery/", "/gallery/public/", "/accounts/login/", "/accounts/signup/", "/api/docs")


def environment(workdir):
    env = dict(os.environ, **MODEL_ENV, DJANGO_SETTINGS_MODULE="nst_site.settings.production",
               DJANGO_SECRET_KEY="bench-" * 10, DJANGO_ALLOWED_HOSTS="127.0.0.1", DJANGO_SECURE_COOKIES="0",
               DJANGO_STATIC_ROOT=str(workdir / "static"), NST_DB_PATH=str(workdir / "db.sqlite3"),
               NST_MEDIA_ROOT=str(workdir / "media"))
    env.pop("DATABASE_URL", None)
    return env


def serve(root, workdir):
    """Start `serve`; returns (process, port, seconds until the upload page answered)."""
    env = environment(workdir)
    manage = [sys.executable, str(root / "manage.py")]
    for command in (["migrate", "--noinput", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run(manage + command, env=env, check=True, cwd=root)
    port = free_port()
    started = time.monotonic()
    process = subprocess.Popen(manage + ["serve", f"127.0.0.1:{port}"], env=env, cwd=root,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while time.monotonic() < started + 120:
        try:
            if request(port, "GET", "/")[0] == 200:
                return process, port, time.monotonic() - started
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("serve did not answer within 120 s")


def descendants(pid):
    """``{pid: (parent pid, command line)}`` of every process below ``pid``."""
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, pending = {}, [pid]
    while pending:
        parent = pending.pop()
        for child in children.get(parent, []):
            try:
                found[child] = (parent, Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
            pending.append(child)
    return found


def resident_mib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS")).split()[1]) / 1024


def role(serve_pid, parent, command):
    """What a process started by `serve` is: a worker of a queue, gunicorn's master, or a web process."""
    if " worker --queues " in command:
        return "slow worker" if " --queues slow" in command else "fast worker"
    if "gunicorn" in command:
        return "gunicorn master" if parent == serve_pid else "web process"
    return "other"


def stylize_seconds(root, runs):
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        env = environment(workdir)
        env["DJANGO_SETTINGS_MODULE"] = "nst_site.settings.development"
        manage = [sys.executable, str(root / "manage.py")]
        subprocess.run(manage + ["migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=root)
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            subprocess.run(manage + ["stylize", str(CONTENT / "astronaut.png"), str(STYLE / "starry_night.jpg"),
                                     "-o", str(workdir / "out.png"), "--method", "magenta", "--max-size", "512"],
                           env=env, check=True, cwd=root, capture_output=True)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to measure (default: this one)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print_host()
    root = args.root.resolve()
    print(f"checkout: {root} ({subprocess.run(['git', 'log', '-1', '--format=%h %s'], cwd=root, capture_output=True, text=True).stdout.strip()[:70]})")
    with tempfile.TemporaryDirectory() as folder:
        process, port, seconds = serve(root, Path(folder))
        try:
            print(f"serve: upload page answered {seconds:.1f} s after start")
            wait_until_quiet()
            for _ in range(3):
                for page in PAGES:
                    request(port, "GET", page)
            by_role = {}
            for pid, (parent, command) in descendants(process.pid).items():
                by_role.setdefault(role(process.pid, parent, command), []).append(resident_mib(pid))
            for name, sizes in sorted(by_role.items()):
                print(f"  {name:16} resident " + ", ".join(f"{size:.0f}" for size in sorted(sizes)) + " MiB")
        finally:
            process.terminate()
            process.wait()
    print(f"stylize 512 px (magenta, lite engine) as a whole process: median {stylize_seconds(root, args.runs):.2f} s "
          f"of {args.runs}")


if __name__ == "__main__":
    main()
