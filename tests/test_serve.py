"""`manage.py serve`, what `./run` starts: the web server and a worker per queue, stopped together by Ctrl-C."""
import gzip
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from bench._common import free_port, request, upload_transfer

from .conftest import CONTENT_DIR, ROOT, STYLE_DIR, wait_for

pytestmark = pytest.mark.workers


#: Where every method's weights are, as a deployment sets them (the README's offline set-up copies them instead).
METHOD_WEIGHTS = {"NST_ADAIN_MODEL_DIR": str(settings.NST_ADAIN_MODEL_DIR), "NST_VGG_WEIGHTS": str(settings.NST_VGG_WEIGHTS)}


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
               NST_LITE_MODEL_DIR=str(settings.NST_LITE_MODEL_DIR), **METHOD_WEIGHTS,
               NST_DB_PATH=str(tmp_path / "db.sqlite3"),
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


@pytest.fixture
def production_site(tmp_path):
    """`serve` as `./run` starts it: production settings over plain HTTP, after collectstatic."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="nst_site.settings.production", DJANGO_SECRET_KEY="x" * 50,
               DJANGO_ALLOWED_HOSTS="127.0.0.1", DJANGO_SECURE_COOKIES="0", DJANGO_STATIC_ROOT=str(tmp_path / "static"),
               NST_ENGINE="lite", NST_LITE_MODEL_DIR=str(settings.NST_LITE_MODEL_DIR), **METHOD_WEIGHTS,
               NST_DB_PATH=str(tmp_path / "db.sqlite3"), NST_MEDIA_ROOT=str(tmp_path / "media"))
    env.pop("DATABASE_URL", None)
    for command in (["migrate", "-v", "0"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run([sys.executable, "manage.py", *command], cwd=ROOT, env=env, check=True)
    port = free_port()
    with open(tmp_path / "serve.log", "w") as log:
        process = subprocess.Popen([sys.executable, "manage.py", "serve", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT)
    wait_for(lambda: _serving(port), timeout=60)
    yield port
    # SIGTERM, as a service manager stops it (the other tests use Ctrl-C's SIGINT).
    children = _children(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    wait_for(lambda: not any(_alive(pid) for pid in children), timeout=10)


def test_production_server_serves_hashed_compressed_static_files_and_safe_media(production_site):
    """gunicorn, not the development server; static files hashed, gzipped, cached for ever; media with nosniff."""
    port = production_site
    status, headers, page = request(port, "GET", "/")
    assert status == 200 and headers["Server"].startswith("gunicorn")
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert headers["X-Frame-Options"] == "DENY" and headers["Referrer-Policy"] == "same-origin"
    stylesheet = re.search(r'href="(/static/tfapp/css/site\.[0-9a-f]{12}\.css)"', page.decode()).group(1)
    status, headers, compressed = request(port, "GET", stylesheet, headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert "immutable" in headers["Cache-Control"] and "max-age=315360000" in headers["Cache-Control"]
    plain = request(port, "GET", stylesheet)[2]
    assert gzip.decompress(compressed) == plain and len(compressed) < len(plain) / 2

    status, location = upload_transfer(port, CONTENT_DIR / "chelsea.png", STYLE_DIR / "the_scream.jpg")
    assert status == 302
    photo = re.search(r'src="(/media/transfers/[^"]+/content\.png)"', request(port, "GET", location)[2].decode())
    status, headers, _ = request(port, "GET", photo.group(1))
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_deploy_check_passes_with_the_documented_environment(tmp_path):
    """`check --deploy` with the production settings and the README's HTTPS variables prints no warning."""
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="nst_site.settings.production",
               DJANGO_SECRET_KEY="k3y-" + "v" * 20 + "-0123456789abcdefghijklmnop", DJANGO_ALLOWED_HOSTS="photos.example.org",
               DJANGO_SECURE_SSL_REDIRECT="1", DJANGO_SECURE_HSTS_SECONDS="31536000",
               DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS="1", DJANGO_SECURE_HSTS_PRELOAD="1", DJANGO_BEHIND_PROXY="1",
               NST_ENGINE="lite", NST_LITE_MODEL_DIR=str(settings.NST_LITE_MODEL_DIR), **METHOD_WEIGHTS,
               NST_DB_PATH=str(tmp_path / "db.sqlite3"))
    checked = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=env,
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout, checked.stdout + checked.stderr
