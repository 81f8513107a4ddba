"""Sessions kept in the database, as Django keeps them, read with one plain query, written once a request.

Every page reads its visitor's session: for who is signed in, and which transfers
are theirs. Django's database sessions read it through the ORM, which spends about
a millisecond of Python building the query each time; this plain query costs a
tenth of that. Writing, expiry and clearing are Django's own, except that a save
repeating the store's last one is skipped.
"""
from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
    def __init__(self, session_key=None):
        super().__init__(session_key)
        self._saved = None  # (key, serialized data) as this store last saved them

    def save(self, must_create=False):
        """Django's save, skipped when this store saved the same data under the same key already.

        A view that saves the session with its own writes (the upload, see
        tfapp.views.upload) leaves the response nothing to write.
        """
        if not must_create and self._saved is not None and self._saved == self._saved_form():
            return
        super().save(must_create)
        self._saved = self._saved_form()

    def _saved_form(self):
        return self.session_key, self.serializer().dumps(self._get_session())

    def load(self):
        data = self._session_data()
        if data is None:
            # Unknown or expired: a new session starts, as with Django's backend.
            self._session_key = None
            return {}
        return self.decode(data)

    def _session_data(self):
        """The stored data of this session while it has not expired; None otherwise."""
        if not self.session_key:
            return None
        connection = connections[router.db_for_read(self.model)]
        table = connection.ops.quote_name(self.model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT session_data FROM {table} WHERE session_key = %s AND expire_date > %s",
                           [self.session_key, connection.ops.adapt_datetimefield_value(timezone.now())])
            row = cursor.fetchone()
        return row[0] if row else None
