"""Helpers shared by the benchmarks: paths, a server process, and multipart uploads."""
import http.client
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("NST_SHARED_DIR", ROOT.parent / "shared"))
LITE_DIR = SHARED / "models" / "magenta-lite"
#: Every method's weights, from the shared copies (the product downloads them on a connected machine).
MODEL_ENV = {"NST_ENGINE": "lite", "NST_LITE_MODEL_DIR": str(LITE_DIR),
             "NST_ADAIN_MODEL_DIR": str(SHARED / "models" / "adain-vgg19"),
             "NST_VGG_WEIGHTS": str(SHARED / "models" / "vgg19-normalised" / "vgg19_normalised_relu4_1.npz")}
CONTENT = SHARED / "images" / "content"
STYLE = SHARED / "images" / "style"


def print_host():
    """Print the CPU (model, cores, AVX-512 / BF16 / AMX flags) and the load: figures mean little without them."""
    from tfapp import host

    print(f"{host.description()}; load average {os.getloadavg()[0]:.2f}")


def summary(seconds):
    """'median (min-max)' of a list of durations, in seconds."""
    return f"{statistics.median(seconds):.3f} s (min {min(seconds):.3f}, max {max(seconds):.3f}, n={len(seconds)})"


def median_seconds(call, runs):
    """The median wall time of ``runs`` calls of ``call``, after one call to warm it."""
    call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(workdir, extra_env=None, command="runserver"):
    """Migrate a fresh database in ``workdir`` and start the site; returns (process, port, seconds to ready).

    ``command`` is ``runserver`` (the web process alone) or ``serve`` (web server and workers).
    """
    env = dict(os.environ, **MODEL_ENV, NST_DB_PATH=str(workdir / "db.sqlite3"),
               NST_MEDIA_ROOT=str(workdir / "media"), **(extra_env or {}))
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run(manage + ["migrate", "--noinput", "-v", "0"], env=env, check=True)
    port = free_port()
    started = time.perf_counter()
    arguments = ["runserver", "--noreload"] if command == "runserver" else [command]
    process = subprocess.Popen(manage + arguments + [f"127.0.0.1:{port}"], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while True:
        try:
            if request(port, "GET", "/")[0] == 200:
                return process, port, time.perf_counter() - started
        except OSError:
            time.sleep(0.05)
        if process.poll() is not None:
            raise RuntimeError("the server exited during start-up")


def wait_until_quiet(seconds=2.0, idle_share=0.9, timeout=180):
    """Wait until this machine's CPUs have been at least ``idle_share`` idle over ``seconds``; returns seconds waited.

    A server answers its first page before every process has finished starting (web
    processes importing, workers loading and warming their networks); figures taken
    before it is quiet would measure the start, not the server.
    """
    started = time.perf_counter()
    before = _cpu_times()
    while time.perf_counter() - started < timeout:
        time.sleep(seconds)
        after = _cpu_times()
        busy, total = after[0] - before[0], after[1] - before[1]
        if total and 1 - busy / total >= idle_share:
            break
        before = after
    return time.perf_counter() - started


def _cpu_times():
    """(busy, total) CPU time of the whole machine so far, from /proc/stat, in clock ticks."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle and iowait
    return sum(fields) - idle, sum(fields)


def request(port, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, dict(response.getheaders()), data


def multipart(fields, files):
    """Encode form fields and (name, filename, bytes) files as multipart/form-data."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields.items()]
    for name, filename, data in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
                     f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def upload_transfer(port, content_path, style_path, fields=None):
    """POST one transfer like a browser (with the CSRF cookie); returns the response status and Location.

    ``fields`` adds form fields, e.g. ``{"method": "gatys", "quality": "draft"}``.
    """
    token = "b" * 32
    body, content_type = multipart({"csrfmiddlewaretoken": token, **(fields or {})}, [
        ("content_image", content_path.name, content_path.read_bytes()),
        ("style_image", style_path.name, style_path.read_bytes()),
    ])
    status, headers, _ = request(port, "POST", "/", body, {"Content-Type": content_type,
                                                           "Cookie": f"csrftoken={token}"})
    return status, headers.get("Location")


def contact_sheet(tiles, height, path):
    """Save ``tiles`` (label, Pillow image) side by side at ``height`` px, each labelled below, as a JPEG."""
    from PIL import Image, ImageDraw, ImageOps

    scaled = [(label, ImageOps.contain(image.convert("RGB"), (10_000, height))) for label, image in tiles]
    sheet = Image.new("RGB", (sum(image.width for _, image in scaled) + 12 * (len(scaled) + 1), height + 44), "white")
    draw = ImageDraw.Draw(sheet)
    left = 12
    for label, image in scaled:
        sheet.paste(image, (left, 12))
        draw.text((left, height + 20), label, fill="black")
        left += image.width + 12
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path, quality=88)
