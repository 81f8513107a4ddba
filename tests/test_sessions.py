"""Sessions: stored in the database as Django stores them, read back with one plain query."""
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tfapp.models import Transfer
from tfapp.ownership import SESSION_KEY
from tfapp.sessions import SessionStore

from .conftest import upload

pytestmark = pytest.mark.django_db


def _saved(**data):
    session = SessionStore()
    session.update(data)
    session.save()
    return session.session_key


def test_a_saved_session_reads_back():
    key = _saved(tfapp_visitor="abc", count=3)
    session = SessionStore(key)
    assert dict(session.items()) == {"tfapp_visitor": "abc", "count": 3}
    assert session.session_key == key


def test_an_expired_session_starts_empty():
    key = _saved(tfapp_visitor="abc")
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() - timedelta(seconds=1))
    session = SessionStore(key)
    assert dict(session.items()) == {}
    assert session.session_key is None


def test_an_unknown_session_starts_empty():
    session = SessionStore("x" * 32)
    assert dict(session.items()) == {}
    assert session.session_key is None



def test_the_site_reads_sessions_with_this_store(client):
    """The privacy tests (tests/test_privacy.py) go through it: every page's visitor comes from it."""
    client.get("/")
    assert isinstance(client.session, SessionStore)


def test_saving_the_same_data_again_writes_nothing(django_assert_num_queries):
    """A second save of unchanged data is skipped; a change is saved."""
    session = SessionStore()
    session["tfapp_visitor"] = "abc"
    session.save()
    with django_assert_num_queries(0):
        session.save()
    session["count"] = 1
    session.save()
    assert dict(SessionStore(session.session_key).items()) == {"tfapp_visitor": "abc", "count": 1}


def test_a_new_visitors_upload_writes_the_session_before_the_transfer_and_not_after(
        client, settings, django_capture_on_commit_callbacks):
    """The session is written with the transfer, before the commit that wakes a worker, and the answer writes
    nothing more; the visitor's cookie then owns the transfer."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("tfapp:upload"), {"content_image": upload(), "style_image": upload("s.png")})
    assert response.status_code == 302
    writes = [query["sql"].split('"')[1] for query in queries.captured_queries
              if query["sql"].startswith(("INSERT", "UPDATE", "DELETE"))]
    assert writes == ["django_session", "tfapp_transfer", "tfapp_transferstyle", "django_tasks_database_dbtaskresult"]
    assert client.session[SESSION_KEY] == Transfer.objects.get().visitor != ""
