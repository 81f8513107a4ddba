"""Sessions kept in the database, as Django keeps them, read with one plain query.

Every page reads its visitor's session: for who is signed in, and which transfers
are theirs. Django's database sessions read it through the ORM, which spends about
a millisecond of Python building the query each time; this plain query costs a
tenth of that. Writing, expiry and clearing are Django's own.
"""
from django.contrib.sessions.backends import db
from django.db import connections, router
from django.utils import timezone


class SessionStore(db.SessionStore):
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
