"""Web processes hold no machine-learning library; the command line imports only what its method needs."""
import json
import os
import subprocess
import sys

from django.conf import settings

from .conftest import ROOT

#: What only workers and the command line may import.
MACHINE_LEARNING = ("tensorflow", "tensorflow_hub", "openvino", "ai_edge_litert")

WEB_PROCESS = r"""
import io, json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
import nst_site.wsgi  # a web process's start: every method's availability, the templates compiled
from django.contrib.auth.models import User
from django.test import Client
from PIL import Image
from tfapp import engines
from tfapp.models import ApiToken

def png(size, colour):
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    buffer.seek(0)
    buffer.name = "image.png"
    return buffer

statuses = {}
client = Client()
statuses["upload page"] = client.get("/").status_code
response = client.post("/", {"content_image": png((48, 32), "red"), "style_image": png((32, 32), "blue"),
                             "method": "adain"})
statuses["form submitted"] = response.status_code
result = response["Location"]
statuses["result page"] = client.get(result).status_code
statuses["status"] = client.get(result + "status.json").status_code
for path in ("/gallery/", "/gallery/mine/", "/gallery/public/", "/accounts/login/", "/accounts/signup/"):
    statuses[path] = client.get(path).status_code
user = User.objects.create_user("painter", password="a long enough password")
client.force_login(user)
statuses["/accounts/"] = client.get("/accounts/").status_code
_, key = ApiToken.issue(user, "web process test")
response = Client().post("/api/transfers", {"content_image": png((40, 40), "green"), "style_image": png((32, 32), "white"),
                                           "method": "magenta"}, HTTP_AUTHORIZATION=f"Bearer {key}")
statuses["api submitted"] = response.status_code
unavailable = {name: engines.unavailable_reason(name) for name in engines.names()}
print(json.dumps({"statuses": statuses, "unavailable": unavailable,
                  "loaded": [name for name in sys.argv[1:] if name in sys.modules]}))
"""


def test_a_web_process_serves_pages_and_takes_transfers_without_machine_learning_libraries(tmp_path):
    """Loading the WSGI application, rendering every page and submitting by form and API imports no ML library."""
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment.update(DJANGO_SETTINGS_MODULE="nst_site.settings.development", NST_ENGINE="lite",
                       NST_DB_PATH=str(tmp_path / "db.sqlite3"), NST_MEDIA_ROOT=str(tmp_path / "media"),
                       NST_MODEL_DIR=str(tmp_path / "models"), NST_LITE_MODEL_DIR=str(settings.NST_LITE_MODEL_DIR),
                       NST_ADAIN_MODEL_DIR=str(settings.NST_ADAIN_MODEL_DIR),
                       NST_VGG_WEIGHTS=str(settings.NST_VGG_WEIGHTS))
    output = subprocess.run([sys.executable, "-c", WEB_PROCESS, *MACHINE_LEARNING], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=300, check=True).stdout
    report = json.loads(output.splitlines()[-1])
    assert report["statuses"] == {
        "upload page": 200, "form submitted": 302, "result page": 200, "status": 200, "/gallery/": 200,
        "/gallery/mine/": 200, "/gallery/public/": 200, "/accounts/login/": 200, "/accounts/signup/": 200,
        "/accounts/": 200, "api submitted": 201}
    assert report["unavailable"] == {"magenta": None, "adain": None, "gatys": None}
    assert report["loaded"] == []


COMMAND_LINE = r"""
import json, sys
import django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("stylize", sys.argv[1], sys.argv[2], "-o", sys.argv[3], "--method", "magenta", "--max-size", "64")
print(json.dumps([name for name in sys.argv[4:] if name in sys.modules]))
"""


def test_a_magenta_transfer_from_the_command_line_imports_no_tensorflow(tmp_path):
    """`stylize --method magenta` on the lite engine runs without TensorFlow in the process."""
    environment = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    environment.update(DJANGO_SETTINGS_MODULE="nst_site.settings.development", NST_ENGINE="lite",
                       NST_DB_PATH=str(tmp_path / "db.sqlite3"), NST_MEDIA_ROOT=str(tmp_path / "media"),
                       NST_LITE_MODEL_DIR=str(settings.NST_LITE_MODEL_DIR))
    output = tmp_path / "out.png"
    result = subprocess.run([sys.executable, "-c", COMMAND_LINE, str(settings.SHARED_DIR / "images/content/chelsea.png"),
                             str(settings.SHARED_DIR / "images/style/the_scream.jpg"), str(output),
                             "tensorflow", "tensorflow_hub"],
                            cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300, check=True)
    assert output.is_file()
    assert json.loads(result.stdout.splitlines()[-1]) == []
