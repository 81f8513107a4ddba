"""Noticing, cheaply, that another process wrote to the database.

Waiting for something another process does (a worker finishing a transfer, a web
process queueing one) means looking at the database again and again. On SQLite,
``PRAGMA data_version`` tells without reading a table or taking a lock whether any
other connection has committed since the last look, so the real query can wait for a
change. Elsewhere (PostgreSQL) every check answers yes and the caller queries each time.
"""
from django.db import connection


def check_interval():
    """Seconds between checks for a change: 25 ms on SQLite, where a check reads a counter; else a query's worth.

    Every check wakes the process: the two idle workers of `serve` used a sixth of a core
    between them at 5 ms, 4 % of one at 25 ms.
    """
    return 0.025 if connection.vendor == "sqlite" else 0.05


class DatabaseChanges:
    """Whether other connections of this thread's database committed since the last check."""

    def __init__(self):
        self._seen = None

    def happened(self):
        """True on the first check, after any commit by another connection, and after a reconnect."""
        if connection.vendor != "sqlite":
            return True
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA data_version")
            # The counter is per connection: compare it only on the same one. Holding the
            # connection object (not its id) keeps a reconnect from looking like the same one.
            seen = (connection.connection, cursor.fetchone()[0])
        changed = self._seen is None or seen[0] is not self._seen[0] or seen[1] != self._seen[1]
        self._seen = seen
        return changed
