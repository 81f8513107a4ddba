"""`manage.py serve`, what `./run` starts: the web server and a worker per queue, stopped together by Ctrl-C."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from bench._common import free_port, request, upload_transfer

from .conftest import CONTENT_DIR, ROOT, STYLE_DIR, wait_for

pytestmark = pytest.mark.workers


def _children(pid):
    """Process ids whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def site(tmp_path):
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="nst_site.settings.development", NST_ENGINE="lite",
               NST_LITE_MODEL_DIR=str(settings.NST_LITE_MODEL_DIR), NST_DB_PATH=str(tmp_path / "db.sqlite3"),
               NST_MEDIA_ROOT=str(tmp_path / "media"))
    env.pop("DATABASE_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    port = free_port()
    with open(tmp_path / "serve.log", "w") as log:
        process = subprocess.Popen([sys.executable, "manage.py", "serve", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    yield process, port
    if process.poll() is None:
        process.kill()
        process.wait()


def _serving(port):
    try:
        return request(port, "GET", "/")[0] == 200
    except OSError:
        return False


def test_serve_runs_a_transfer_and_ctrl_c_stops_everything(site):
    """The site answers, a worker finishes an upload, and one Ctrl-C stops the server and both workers."""
    process, port = site
    wait_for(lambda: _serving(port), timeout=60)
    status, location = upload_transfer(port, CONTENT_DIR / "chelsea.png", STYLE_DIR / "the_scream.jpg")
    assert status == 302

    def finished():
        return json.loads(request(port, "GET", location + "status.json")[2])["status"] == "done"

    wait_for(finished, timeout=60)
    children = _children(process.pid)
    assert len(children) == 3  # the web server, a worker for fast transfers and one for slow ones
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    wait_for(lambda: not any(_alive(pid) for pid in children), timeout=10)
    assert not _serving(port)


def test_killing_serve_stops_its_web_server_and_worker(site):
    """SIGKILL to `serve` (no chance to clean up) still ends its children, so none is left serving."""
    process, port = site
    wait_for(lambda: _serving(port), timeout=60)
    children = _children(process.pid)
    assert len(children) == 3
    process.kill()
    process.wait()
    wait_for(lambda: not any(_alive(pid) for pid in children), timeout=30)
    assert not _serving(port)
