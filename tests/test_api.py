"""The JSON API: tokens, the form's validation as JSON errors, ownership, rate limits and the OpenAPI schema."""
import hashlib
import io
import json
import threading
import urllib.error
import urllib.request
import uuid

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from openapi_spec_validator import validate
from PIL import Image

from bench._common import multipart
from tfapp.models import ApiRateCount, ApiToken, Transfer
from tfapp.ownership import Ownership

from .conftest import image_bytes, make_image, media_files, upload
from .factories import make_transfer

pytestmark = pytest.mark.django_db


@pytest.fixture
def token():
    """A user's personal token as the client sends it."""
    user = User.objects.create_user("ada", password="pw-for-tests")
    return ApiToken.issue(user, "tests")[1]


def auth(key):
    return {"HTTP_AUTHORIZATION": f"Bearer {key}"}


def owned_transfer(username, **options):
    """A transfer (queued unless ``run``) belonging to a new or existing user."""
    user, _ = User.objects.get_or_create(username=username)
    transfer = make_transfer(**options)
    Transfer.objects.filter(pk=transfer.pk).update(**Ownership(user=user).fields())
    transfer.refresh_from_db()
    return transfer


def files(content=None, style=None):
    return {"content_image": content or upload("photo.png", make_image((48, 32))),
            "style_image": style or upload("style.png", make_image((32, 32)))}


class Http:
    """Requests to the live server over real HTTP (no test client)."""

    def __init__(self, base, key):
        self.base, self.key = base, key

    def __call__(self, method, path, body=None, content_type=None):
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        if content_type:
            headers["Content-Type"] = content_type
        request = urllib.request.Request(self.base + path, data=body, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()


@pytest.mark.django_db(transaction=True)
def test_create_follow_download_and_delete_over_http(live_server, isolated_storage):
    """A script's whole session through the real HTTP stack with a token: create, status, result, delete."""
    user = User.objects.create_user("script")
    http = Http(live_server.url, ApiToken.issue(user, "script")[1])
    body, content_type = multipart({"strength": "80", "output_size": "512"}, [
        ("content_image", "photo.png", image_bytes(make_image((60, 40)))),
        ("style_image", "style.png", image_bytes(make_image((32, 32))))])
    status, _, created = http("POST", "/api/transfers", body, content_type)
    assert status == 201, created
    transfer = json.loads(created)
    status, _, state = http("GET", f"/api/transfers/{transfer['id']}")
    state = json.loads(state)
    assert status == 200 and state["status"] == "done" and state["token"]
    assert set(state) >= {"status", "status_display", "queue_position", "attempts", "error", "result_url", "token"}
    status, headers, png = http("GET", f"/api/transfers/{transfer['id']}/result")
    assert status == 200 and headers["Content-Type"] == "image/png"
    assert Image.open(io.BytesIO(png)).size == (60, 40)
    listed = json.loads(http("GET", "/api/transfers")[2])
    assert [item["id"] for item in listed["items"]] == [transfer["id"]]
    assert http("DELETE", f"/api/transfers/{transfer['id']}")[0] == 204
    assert not Transfer.objects.exists()
    assert media_files(isolated_storage) == []
    assert http("GET", f"/api/transfers/{transfer['id']}")[0] == 404


@pytest.mark.django_db(transaction=True)
def test_no_token_is_401_over_http(live_server):
    status, headers, body = Http(live_server.url, None)("GET", "/api/transfers")
    assert status == 401 and headers["Content-Type"].startswith("application/json")
    assert json.loads(body)["code"] == "not_authenticated"
    assert Http(live_server.url, "rst_made-up")("POST", "/api/transfers", b"", "multipart/form-data; boundary=x")[0] == 401


def test_a_revoked_token_is_refused(client, token):
    ApiToken.objects.all().delete()
    assert client.get("/api/transfers", **auth(token)).status_code == 401


def _queue_one_for(client_address):
    queued = make_transfer(run=False)
    Transfer.objects.filter(pk=queued.pk).update(client=hashlib.sha256(client_address.encode()).hexdigest()[:32])


def _ico_file():
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "ICO")
    return buffer.getvalue()


FORM_ERRORS = [
    # (what is sent, settings, expected status, code, field)
    ({"content_image": None}, {}, 400, "required", "content_image"),
    ({"style_image": None}, {}, 400, "no_style", None),
    ({"content_image": SimpleUploadedFile("a.png", b"not an image")}, {}, 400, "not_an_image", "content_image"),
    ({"content_image": SimpleUploadedFile("a.ico", _ico_file())}, {}, 400, "unsupported_format", "content_image"),
    ({"content_image": SimpleUploadedFile("a.png", image_bytes(make_image((64, 64)))[:-200])}, {}, 400,
     "corrupt_image", "content_image"),
    ({}, {"NST_MAX_UPLOAD_BYTES": 100}, 413, "file_too_large", "content_image"),
    ({}, {"NST_MAX_UPLOAD_PIXELS": 100}, 400, "too_many_pixels", "content_image"),
    ({"strength": "101"}, {}, 400, "max_value", "strength"),
    ({"style_size": "100"}, {}, 400, "invalid_choice", "style_size"),
    ({"output_size": "9999"}, {}, 400, "invalid_choice", "output_size"),
    ({"style_weight": "0"}, {}, 400, "zero_weights", None),
    ({"style_preset": "999"}, {}, 400, "invalid_choice", "style_preset"),
    ({"source": str(uuid.uuid4()), "content_image": None, "style_image": None}, {}, 400, "no_source", None),
    ({}, {"NST_MAX_PENDING_PER_CLIENT": 1, "queued_for": "127.0.0.1"}, 429, "client_queue_full", None),
    ({}, {"NST_MAX_PENDING_TOTAL": 1, "queued_for": "10.0.0.9"}, 503, "queue_full", None),
]


@pytest.mark.parametrize("sent, overrides, status, code, field", FORM_ERRORS,
                         ids=[case[3] for case in FORM_ERRORS])
def test_form_errors_come_back_as_json(client, settings, token, isolated_storage, sent, overrides, status, code,
                                       field):
    """Each of the upload form's error codes is a JSON error with its status, and nothing is stored."""
    overrides = dict(overrides)
    if "queued_for" in overrides:
        _queue_one_for(overrides.pop("queued_for"))
    for name, value in overrides.items():
        setattr(settings, name, value)
    before = Transfer.objects.count()
    data = {**files(), **sent}
    response = client.post("/api/transfers", {name: value for name, value in data.items() if value is not None},
                           **auth(token))
    body = response.json()
    assert (response.status_code, body["code"], body["field"]) == (status, code, field), body
    assert body["message"] and {"code": code, "message": body["message"], "field": field} in body["errors"]
    assert Transfer.objects.count() == before
    if status in (429, 503):
        assert response["Retry-After"]


def test_the_model_being_unavailable_is_a_503(client, settings, token, fresh_engine, tmp_path):
    settings.NST_LITE_MODEL_DIR = tmp_path / "empty"
    response = client.post("/api/transfers", files(), **auth(token))
    assert (response.status_code, response.json()["code"]) == (503, "model_unavailable")


def test_a_body_that_is_not_multipart_is_a_json_error(client, token):
    response = client.post("/api/transfers", "{}", content_type="application/json", **auth(token))
    assert response.status_code == 400 and response.json()["code"] == "required"
    response = client.patch(f"/api/transfers/{uuid.uuid4()}", "not json", content_type="application/json",
                            **auth(token))
    assert response.status_code == 400 and response.json()["code"] in ("invalid", "bad_request")


def test_another_users_transfer_is_404_and_untouched(client, token, isolated_storage,
                                                     django_capture_on_commit_callbacks):
    """Status, result, sharing and deleting someone else's transfer all answer 404; its row and files stay."""
    theirs = owned_transfer("bob")
    stored = media_files(isolated_storage)
    base = f"/api/transfers/{theirs.public_id}"
    with django_capture_on_commit_callbacks(execute=True):
        responses = [client.get(base, **auth(token)), client.get(base + "/result", **auth(token)),
                     client.patch(base, {"shared": True}, content_type="application/json", **auth(token)),
                     client.delete(base, **auth(token))]
    assert [response.status_code for response in responses] == [404] * 4
    assert {response.json()["code"] for response in responses} == {"not_found"}
    theirs.refresh_from_db()
    assert not theirs.shared
    assert media_files(isolated_storage) == stored
    assert client.get("/api/transfers", **auth(token)).json()["count"] == 0


def test_sharing_through_the_api_shows_in_the_public_gallery(client, token):
    mine = owned_transfer("ada")
    response = client.patch(f"/api/transfers/{mine.public_id}", {"shared": True}, content_type="application/json",
                            **auth(token))
    assert response.status_code == 200 and response.json()["shared"] is True
    assert mine.get_absolute_url() in client.get("/gallery/public/").content.decode()


def test_the_list_is_paginated(client, token):
    for _ in range(21):
        owned_transfer("ada", run=False)
    first = client.get("/api/transfers", **auth(token)).json()
    second = client.get("/api/transfers?page=2", **auth(token)).json()
    assert (first["count"], first["pages"], len(first["items"]), len(second["items"])) == (21, 2, 20, 1)
    assert client.get("/api/transfers?page=3", **auth(token)).status_code == 404


def test_a_result_that_is_not_ready_is_a_409(client, token):
    queued = owned_transfer("ada", run=False)
    response = client.get(f"/api/transfers/{queued.public_id}/result", **auth(token))
    assert (response.status_code, response.json()["code"]) == (409, "not_finished")


def test_presets_are_listed(client, token):
    from .factories import make_preset

    make_preset("Stripes")
    assert [preset["name"] for preset in client.get("/api/presets", **auth(token)).json()] == ["Stripes"]


def test_past_the_rate_limit_is_429_with_retry_after(client, settings, token):
    """Requests beyond NST_API_RATE_LIMIT a minute get 429 and a Retry-After; another token is unaffected."""
    settings.NST_API_RATE_LIMIT = 3
    statuses = [client.get("/api/presets", **auth(token)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = client.get("/api/presets", **auth(token))
    assert limited.json()["code"] == "rate_limited" and 1 <= int(limited["Retry-After"]) <= 60
    other = ApiToken.issue(User.objects.create_user("bob"), "other")[1]
    assert client.get("/api/presets", **auth(other)).status_code == 200


def test_anonymous_use_is_off_by_default_and_can_be_allowed(client, settings):
    assert client.get("/api/transfers").status_code == 401
    settings.NST_API_ANONYMOUS = True
    assert client.get("/api/transfers").status_code == 200


def test_a_signed_in_browser_uses_its_session_with_csrf(client):
    """The session works for reading; a change without the CSRF token is refused."""
    user = User.objects.create_user("ada")
    client.force_login(user)
    assert client.get("/api/transfers").status_code == 200
    csrf_client = type(client)(enforce_csrf_checks=True)
    csrf_client.force_login(user)
    response = csrf_client.post("/api/transfers", files())
    assert response.status_code == 403 and response.json()["code"] == "forbidden"


def _duplicate_keys(node):
    """Keys that occur twice in one object anywhere in a JSON document parsed into lists of pairs."""
    if isinstance(node, list) and all(isinstance(item, tuple) for item in node):
        keys = [key for key, _ in node]
        repeated = {key for key in keys if keys.count(key) > 1}
        return repeated.union(*(_duplicate_keys(value) for _, value in node))
    if isinstance(node, list):
        return set().union(*(_duplicate_keys(item) for item in node))
    return set()


def test_openapi_schema_is_valid_and_lists_every_endpoint(client):
    """The schema validates as OpenAPI 3 and names every operation, with the form's fields for create."""
    response = client.get("/api/openapi.json")
    # Parsed keeping duplicate keys, which json.loads would silently merge (and Swagger UI refuses).
    pairs = json.loads(response.content, object_pairs_hook=lambda items: items)
    assert not _duplicate_keys(pairs)
    schema = response.json()
    validate(schema)
    operations = {(path, method) for path, item in schema["paths"].items() for method in item}
    assert operations == {("/api/presets", "get"), ("/api/transfers", "get"), ("/api/transfers", "post"),
                          ("/api/transfers/{public_id}", "get"), ("/api/transfers/{public_id}", "patch"),
                          ("/api/transfers/{public_id}", "delete"), ("/api/transfers/{public_id}/result", "get")}
    fields = schema["paths"]["/api/transfers"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert {"content_image", "style_image", "style_preset_4", "style_weight_2", "strength", "preserve_colours",
            "style_size", "output_size", "source"} <= set(fields["properties"])


def test_docs_page_uses_local_files_only(client):
    page = client.get("/api/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page
    assert "cdn" not in page.lower() and "https://" not in page


def test_the_api_takes_a_method_and_reports_its_progress_fields(client, token, django_capture_on_commit_callbacks):
    """A transfer created with method=adain runs AdaIN; its state carries method, progress, preview and time left."""
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/transfers", {**files(), "method": "adain"}, **auth(token))
    assert response.status_code == 201, response.content
    state = client.get(f"/api/transfers/{response.json()['id']}", **auth(token)).json()
    assert state["method"] == "adain" and state["status"] == "done"
    assert state["progress"] == 1.0 and state["preview_url"] is None and state["eta_seconds"] is None
    assert Transfer.objects.get().engine == "adain"


def test_the_api_refuses_a_quality_the_method_lacks_as_json(client, token):
    """Magenta with quality=fine: 400 with the form's code, and nothing stored."""
    response = client.post("/api/transfers", {**files(), "method": "magenta", "quality": "fine"}, **auth(token))
    assert response.status_code == 400
    assert response.json()["code"] == "no_quality" and not Transfer.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_rate_counts_from_several_connections_add_up():
    """Web processes count requests together: counting from several connections at once loses none."""
    def count_many():
        try:
            for _ in range(25):
                ApiRateCount.objects.count_request("token-1:1")
        finally:
            connection.close()

    threads = [threading.Thread(target=count_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert ApiRateCount.objects.get(key="token-1:1").count == 100


def test_every_url_in_a_transfers_state_is_absolute(client, token):
    """result_url, like page_url and download_url, names the server, so a script can fetch it as it is."""
    transfer = owned_transfer("ada")
    state = client.get(f"/api/transfers/{transfer.public_id}", **auth(token)).json()
    assert state["result_url"] == f"http://testserver{transfer.result_image.url}"
    assert state["page_url"] == f"http://testserver{transfer.get_absolute_url()}"
    assert state["download_url"] == f"http://testserver/api/transfers/{transfer.public_id}/result"
