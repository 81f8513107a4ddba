"""Sessions: stored in the database as Django stores them, read back with one plain query."""
from datetime import timedelta

import pytest
from django.contrib.sessions.models import Session
from django.utils import timezone

from tfapp.sessions import SessionStore

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
