"""A transfer's progress as the result page sees it, and long-polling for changes to it.

A page asks ``status.json?after=<token>`` with the token of the state it shows; the
request waits until the state differs (or ``NST_STATUS_WAIT`` seconds pass). One
watcher thread per web process checks the database for every waiting request at
once, so waiting pages cost one or two queries per tick however many there are, and
nobody has to poll over HTTP (which, on a small machine, takes CPU from the model).
"""
import logging
import threading
import time
from collections import Counter

from django.db import DatabaseError, connection

from .changes import DatabaseChanges, check_interval
from .models import Transfer

logger = logging.getLogger(__name__)

def progress(transfer, queue_position=None):
    """The JSON-ready state of a transfer; ``token`` changes whenever anything shown changes."""
    if queue_position is None:
        queue_position = transfer.queue_position
    state = {
        "status": transfer.status,
        "status_display": transfer.get_status_display(),
        "queue_position": queue_position,
        "attempts": transfer.attempts,
        "error": transfer.error_message,
        "result_url": transfer.result_image.url if transfer.result_image else None,
    }
    state["token"] = f"{transfer.status}-{queue_position or 0}-{transfer.attempts}"
    return state


class Watcher:
    """Wakes requests waiting on transfers when the state of their transfer changes."""

    def __init__(self):
        self._changed = threading.Condition()
        self._waiting = Counter()  # public id -> requests waiting on it
        self._states = {}  # public id -> latest state, None once deleted
        self._joined = False  # a request started waiting since the last look
        self._thread = None

    def wait_for_change(self, public_id, token, timeout):
        """The transfer's state once its token is no longer ``token``, or after ``timeout`` seconds.

        Returns None when the transfer was deleted meanwhile.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            self._waiting[public_id] += 1
            self._states.pop(public_id, None)
            self._joined = True
            self._start()
            self._changed.notify_all()
            try:
                while True:
                    state = self._states.get(public_id, {"token": token})
                    remaining = deadline - time.monotonic()
                    if state is None or state["token"] != token or remaining <= 0:
                        return state
                    self._changed.wait(remaining)
            finally:
                self._waiting[public_id] -= 1
                if not self._waiting[public_id]:
                    del self._waiting[public_id]
                    self._states.pop(public_id, None)

    def _start(self):
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._watch, name="transfer-status-watcher", daemon=True)
            self._thread.start()

    def _watch(self):
        changes = DatabaseChanges()
        while True:
            with self._changed:
                while not self._waiting:
                    # Idle: give the database connection back until a request waits again.
                    connection.close()
                    self._changed.wait()
                watched, joined, self._joined = list(self._waiting), self._joined, False
            try:
                # Reading the transfers only after a commit (or when someone new waits) keeps
                # the ticks nearly free while a worker stylizes on the same machine.
                states = _states_of(watched) if changes.happened() or joined else {}
            except DatabaseError:
                # Waiting requests time out and ask again; the next tick may find the database back.
                logger.warning("Could not read the status of waiting transfers.", exc_info=True)
                connection.close()
                states = {}
            if states:
                with self._changed:
                    self._states.update(states)
                    self._changed.notify_all()
            time.sleep(check_interval())


def _states_of(public_ids):
    """The current state of each transfer (None for a deleted one), in at most two queries."""
    transfers = {transfer.public_id: transfer for transfer in Transfer.objects.filter(public_id__in=public_ids)}
    positions = {}
    if any(transfer.status == Transfer.Status.QUEUED for transfer in transfers.values()):
        positions = Transfer.objects.queue_positions()
    return {public_id: progress(transfers[public_id], positions.get(public_id)) if public_id in transfers else None
            for public_id in public_ids}


watcher = Watcher()
