"""``manage.py serve``: the web server and background workers together, for one machine.

The web server is gunicorn with threaded workers (``gthread``): each waiting
result page holds a thread for up to ``NST_STATUS_WAIT`` seconds (long-polling),
so threads, not processes, set how many pages can wait at once. ``--dev-server``
runs Django's development server instead, for development only.

Workers that die (a crash, the kernel's OOM killer) are started again; Ctrl-C
stops everything, and so does `serve` itself being killed.
"""
import ctypes
import os
import signal
import subprocess
import sys
import time

from django.core.management.base import BaseCommand

from tfapp import conf

#: Seconds between checks that every child is still alive.
SUPERVISE_INTERVAL = 1.0


class Command(BaseCommand):
    help = "Run the web server and background workers together; Ctrl-C stops them all."

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="Address and port to serve on.")
        parser.add_argument("--workers", type=int, default=int(os.environ.get("NST_WORKERS", 1)),
                            help="Number of workers for fast transfers (default: NST_WORKERS or 1).")
        parser.add_argument("--slow-workers", type=int, default=conf.slow_workers(),
                            help="Number of workers for minutes-long transfers (default: NST_SLOW_WORKERS or 1).")
        parser.add_argument("--dev-server", action="store_true",
                            help="Serve with Django's development server instead of gunicorn (development only).")

    def handle(self, *args, addrport, workers, slow_workers, dev_server, **options):
        manage = [sys.executable, sys.argv[0]]
        worker_env = dict(os.environ)
        worker_env.setdefault("NST_ENGINE_THREADS", str(max(1, (os.cpu_count() or 1) // workers)))
        # Each queue has workers of its own, so a Gatys run never delays a fast transfer. Workers
        # run at a lower CPU priority than the web server, slow ones lowest: pages come first,
        # then fast transfers, then long jobs.
        commands = {f"worker {number + 1}": manage + ["worker", "--queues", "default", "--nice",
                                                      str(conf.worker_niceness())] for number in range(workers)}
        commands.update({f"slow worker {number + 1}": manage + ["worker", "--queues", "slow", "--nice",
                                                                str(conf.slow_worker_niceness())]
                         for number in range(slow_workers)})
        web = manage + ["web", "--noreload", addrport] if dev_server else gunicorn_command(addrport)
        children = {"web": self._start(web, os.environ)}
        children.update({name: self._start(command, worker_env) for name, command in commands.items()})
        signal.signal(signal.SIGTERM, _interrupt)
        try:
            self._supervise(children, commands, worker_env)
        except KeyboardInterrupt:
            self.stdout.write("Stopping the web server and workers…")
        finally:
            _stop(children.values())

    def _start(self, command, env):
        # A session of its own keeps the terminal's Ctrl-C from reaching the children
        # directly: they get exactly one signal, from _stop, and finish their current transfer.
        return subprocess.Popen(command, env=env, start_new_session=True, preexec_fn=_stop_with_parent)

    def _supervise(self, children, commands, worker_env):
        while True:
            time.sleep(SUPERVISE_INTERVAL)
            if children["web"].poll() is not None:
                self.stderr.write("The web server stopped; stopping the workers.")
                return
            for name, child in children.items():
                if name != "web" and child.poll() is not None:
                    self.stderr.write(f"{name} exited with status {child.returncode}; starting it again.")
                    children[name] = self._start(commands[name], worker_env)


def gunicorn_command(addrport):
    """gunicorn serving the site's WSGI application on ``addrport`` (``host:port`` or a port)."""
    bind = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
    return [sys.executable, "-m", "gunicorn", "nst_site.wsgi:application", "--bind", bind,
            "--worker-class", "gthread", "--workers", str(conf.web_processes()), "--threads", str(conf.web_threads()),
            # Waiting status requests answer within NST_STATUS_WAIT; a stop should not wait much longer.
            "--graceful-timeout", "10", "--backlog", "1024", "--error-logfile", "-"]


def _stop_with_parent():
    """In a child, before it runs: ask Linux to send it SIGTERM if `serve` dies without stopping it (SIGKILL)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


PR_SET_PDEATHSIG = 1


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop(children, grace=15):
    # SIGTERM, not SIGINT: a shell that starts `serve` in the background makes its
    # children ignore SIGINT. Workers finish their current transfer on SIGTERM.
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        try:
            child.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
