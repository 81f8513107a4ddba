"""Noticing, cheaply and at once, that another process wrote to the database.

Waiting for something another process does (a worker finishing a transfer, a web
process queueing one) means looking at the database again and again. Two things
keep that cheap and quick:

- On SQLite, ``PRAGMA data_version`` tells without reading a table or taking a lock
  whether any other connection has committed since the last look, so the real query
  can wait for a change. Elsewhere (PostgreSQL) every check answers yes and the
  caller queries each time.
- A :class:`Bell` wakes a waiting process as soon as a write to a job table commits,
  instead of at its next look. Every connection of every process rings it after
  such a write (:func:`ring_after_writes`): on SQLite, a datagram to each waiting
  process's socket in a folder named after the database file (all processes of one
  SQLite database share a machine); on PostgreSQL a ``NOTIFY``, which the server
  delivers at commit to the processes that ``LISTEN``, on any machine. The periodic
  look stays as the fallback, so a lost ring costs at most one interval.
- A ring says which table was written, so a worker woken by a transfer's progress or
  result goes back to sleep without a query: the moment a transfer is done is when the
  page waiting for it should have the machine, not every idle worker looking at its queue.
"""
import hashlib
import logging
import os
import re
import select
import socket
import tempfile
import uuid
from pathlib import Path

from django.db import connection, transaction

logger = logging.getLogger(__name__)

#: Tables whose writes waiting processes care about: transfers, training runs, the database queue's tasks.
WATCHED_TABLES = ("tfapp_transfer", "tfapp_trainingrun", "django_tasks_database_dbtaskresult")
#: The database queue's table, whose writes a waiting worker looks at its queue for.
TASK_TABLE = WATCHED_TABLES[2]
#: The PostgreSQL channel rung and listened to.
CHANNEL = "restyle_changes"
#: The table a statement writes to (quoted or not), when it is an INSERT, UPDATE or DELETE.
_WRITTEN_TABLE = re.compile(r'\s*(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)', re.IGNORECASE)


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


def install_ringer(sender, connection, **kwargs):
    """``connection_created`` receiver: ring the bell after this connection's writes to a watched table."""
    if ring_after_writes not in connection.execute_wrappers:
        connection.execute_wrappers.append(ring_after_writes)


def ring_after_writes(execute, sql, params, many, context):
    """A Django execute wrapper: run the statement, then ring if it wrote to a watched table.

    Inside a transaction the ring waits for the commit (on PostgreSQL the server holds
    a NOTIFY until then; on SQLite it is sent from ``on_commit``), so a woken process
    always finds the write.
    """
    result = execute(sql, params, many, context)
    written = _WRITTEN_TABLE.match(sql)
    if written and written.group(1) in WATCHED_TABLES:
        database = context["connection"]
        if database.vendor == "postgresql":
            # A cursor of its own: the statement's cursor may still hold rows (INSERT … RETURNING).
            with database.connection.cursor() as cursor:
                cursor.execute(f"NOTIFY {CHANNEL}, '{written.group(1)}'")
        elif database.vendor == "sqlite":
            transaction.on_commit(lambda: _ring_sockets(database.settings_dict["NAME"], written.group(1)),
                                  using=database.alias)
    return result


def _socket_folder(database_name):
    """The folder of the waiting processes' sockets for one SQLite database (short: socket paths are limited)."""
    digest = hashlib.sha1(os.fsencode(os.path.abspath(str(database_name)))).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"restyle-bell-{digest}"


def _ring_sockets(database_name, table):
    folder = _socket_folder(database_name)
    try:
        # This process's own waiters last: the others are likelier to wait for this write.
        names = sorted(os.listdir(folder), key=lambda name: name.startswith(f"{os.getpid()}-"))
    except FileNotFoundError:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        for name in names:
            try:
                sender.sendto(table.encode(), str(folder / name))
            except BlockingIOError:
                pass  # Its queue is full: it has rings waiting already.
            except (ConnectionRefusedError, FileNotFoundError):
                # Nobody listens there any more (its process died): tidy up.
                _unlink(folder / name)
            except OSError:
                logger.debug("Could not ring %s.", name, exc_info=True)


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class Bell:
    """What one waiting thread waits on: :meth:`wait` returns as soon as a watched write commits.

    Made and used by one thread (a worker's loop, the status watcher); it opens its
    socket or its listening connection at the first wait, so it belongs to the
    process that waits. Without a supported database it is a plain sleep.
    """

    def __init__(self):
        self._socket = self._path = self._listener = None
        self._pid = None

    def wait(self, timeout):
        """Sleep until a ring or ``timeout`` seconds; returns the set of tables rung for, empty when none rang.

        Rings that came since the last wait count.
        """
        if self._pid != os.getpid():
            self._open()
        if self._socket is not None:
            select.select([self._socket], [], [], timeout)
            return self._drain()
        if self._listener is not None:
            return self._wait_for_notify(timeout)
        select.select([], [], [], timeout)
        return frozenset()

    def close(self):
        """Stop listening: remove the socket, or close the listening connection."""
        if self._socket is not None:
            self._socket.close()
            _unlink(self._path)
        if self._listener is not None:
            self._listener.close()
        self._socket = self._path = self._listener = self._pid = None

    def _open(self):
        self._socket = self._path = self._listener = None
        self._pid = os.getpid()
        try:
            if connection.vendor == "sqlite":
                self._open_socket(connection.settings_dict["NAME"])
            elif connection.vendor == "postgresql":
                self._open_listener()
        except Exception:
            # Waiting still works without the bell: the caller looks again after its interval.
            logger.warning("Could not listen for database changes; waiting by interval only.", exc_info=True)
            self._socket = self._listener = None

    def _open_socket(self, database_name):
        folder = _socket_folder(database_name)
        folder.mkdir(mode=0o700, exist_ok=True)
        self._path = folder / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self._path))
        self._socket.setblocking(False)

    def _open_listener(self):
        import psycopg

        self._listener = psycopg.connect(**connection.get_connection_params(), autocommit=True)
        self._listener.execute(f"LISTEN {CHANNEL}")

    def _drain(self):
        tables = set()
        try:
            while True:
                tables.add(self._socket.recv(64).decode(errors="replace"))
        except BlockingIOError:
            pass
        return frozenset(tables)

    def _wait_for_notify(self, timeout):
        try:
            tables = {notice.payload for notice in self._listener.notifies(timeout=timeout, stop_after=1)}
            # Take the rings that came together with it, so the next wait does not return at once for them.
            tables.update(notice.payload for notice in self._listener.notifies(timeout=0))
            return frozenset(tables)
        except Exception:
            logger.warning("Lost the connection listening for database changes; opening it again.", exc_info=True)
            self.close()
            return frozenset()
