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

from django.db import DatabaseError, connection
from django.utils import timezone

from . import engines
from .changes import Bell, DatabaseChanges, check_interval
from .exceptions import ModelUnavailable
from .imaging import result_size
from .models import Transfer

logger = logging.getLogger(__name__)


def progress(transfer, positions=None):
    """The JSON-ready state of a transfer; ``token`` changes whenever anything shown changes.

    ``positions`` (from ``Transfer.objects.queue_positions()``) saves a query per
    transfer where many are read at once.

    ``result_url`` is the result: the image, or a clip's MP4 (``poster_url`` its still);
    ``frames`` and ``frames_done`` count a clip's frames (null for a photo).
    ``progress`` is the share of the work done (0..1; null while unknown: a method that
    reports none is running), ``steps`` the iterations reported so far, ``preview_url``
    the latest intermediate image (null when none), ``eta_seconds`` the time left
    (null when unknown): from the progress when the method reports it, else from the
    method's estimate for this size.
    """
    queue_position = transfer.queue_position if positions is None else positions.get(transfer.public_id)
    return {
        "status": transfer.status,
        "status_display": transfer.get_status_display(),
        "method": transfer.method,
        "queue_position": queue_position,
        "attempts": transfer.attempts,
        "error": transfer.error_message,
        "result_url": _url(transfer.result_clip or transfer.result_image),
        "poster_url": _url(transfer.result_image) if transfer.is_clip else None,
        "frames": transfer.frames_total,
        "frames_done": transfer.frames_done if transfer.is_clip else None,
        "progress": _fraction(transfer),
        "steps": transfer.progress_steps or None,
        "preview_url": transfer.preview_image.url if transfer.preview_image else None,
        "eta_seconds": eta_seconds(transfer),
        "token": _token(transfer, queue_position),
    }


def _url(field):
    return field.url if field else None


def _token(transfer, queue_position):
    """What changes whenever anything the page shows of ``transfer`` changes."""
    percent = -1 if transfer.progress is None else int(transfer.progress * 100)
    return (f"{transfer.status}-{queue_position or 0}-{transfer.attempts}-{percent}-"
            f"{transfer.preview_image.name or ''}")


def _fraction(transfer):
    if transfer.status == Transfer.Status.DONE:
        return 1.0
    if transfer.status == Transfer.Status.QUEUED:
        return 0.0
    return transfer.progress if transfer.status == Transfer.Status.RUNNING else None


def eta_seconds(transfer):
    """Seconds a running transfer still needs, rounded; None when not running or unknown."""
    if transfer.status != Transfer.Status.RUNNING or transfer.started_at is None:
        return None
    elapsed = (timezone.now() - transfer.started_at).total_seconds()
    if transfer.progress:
        return round(elapsed * (1 - transfer.progress) / transfer.progress)
    try:
        method = engines.method_class(transfer.method)
    except ModelUnavailable:
        return None
    width, height = result_size((transfer.content_width or 1, transfer.content_height or 1), transfer.max_size)
    # A clip: the method's time per frame, for each of its frames.
    frames = transfer.frames_total or 1
    return max(0, round(frames * method.estimate_seconds(width, height, transfer.quality or None) - elapsed))


class _Waiters:
    """The requests waiting on one transfer: how many, and the condition they wait on (on the watcher's lock)."""

    def __init__(self, lock):
        self.count = 0
        self.update = threading.Condition(lock)


class Watcher:
    """Wakes requests waiting on transfers when the state of their transfer changes, and hands them that state.

    A transfer stays watched for LINGER_SECONDS after its last waiter is answered, so the
    page's next request (which follows at once) finds its state here, without a query.
    While no request waits in this process, a commit makes the watcher forget those
    states rather than read them again (a request then reads its own): every web
    process is woken by every commit, and only those where a page waits should spend
    a query on it, not take the CPU from the one answering.
    Only the requests waiting on a transfer whose state changed are woken: with one
    condition for all, each look at the database woke every waiting request of the
    process, dozens of threads taking turns at the interpreter lock for nothing.
    """

    LINGER_SECONDS = 5.0

    def __init__(self):
        self._lock = threading.Lock()
        self._work = threading.Condition(self._lock)  # the watcher thread waits on it while nobody waits
        self._waiting = {}  # public id -> _Waiters, while requests wait on it
        self._lingering = {}  # public id -> when to stop watching it, for transfers nobody waits on now
        # public id -> (number of the look that read it, token, state; token and state None once deleted)
        self._states = {}
        self._looks = 0  # looks at the database begun so far
        self._joined = set()  # public ids a request started waiting on since the last look began
        self._thread = None

    def wait_for_change(self, public_id, token, timeout, unchanged=None):
        """Wait until the transfer's token is no longer ``token`` (or it is deleted), at most ``timeout`` s.

        Returns the new state, as :func:`progress` gives it (None once deleted), or
        ``unchanged`` when the time is up. Only a look at the database that began after
        this call counts, so a waiter is never woken by a state older than the one it has.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            waiters = self._waiting.get(public_id)
            if waiters is None:
                waiters = self._waiting[public_id] = _Waiters(self._lock)
            waiters.count += 1
            self._lingering.pop(public_id, None)
            self._joined.add(public_id)
            since = self._looks
            self._start()
            self._work.notify()
            try:
                while not self._changed_since(public_id, token, since):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return unchanged
                    waiters.update.wait(remaining)
                return self._states[public_id][2]
            finally:
                waiters.count -= 1
                if not waiters.count:
                    del self._waiting[public_id]
                    self._lingering[public_id] = time.monotonic() + self.LINGER_SECONDS

    def latest(self, public_id):
        """The state the watcher last read for a transfer it watches; None if it watches none or it was deleted.

        It is at most one check of the database old: a request that finds its own token
        here may wait on it, as a change since would wake it at the next check.
        """
        with self._lock:
            entry = self._states.get(public_id)
        return entry[2] if entry else None

    def _changed_since(self, public_id, token, since):
        look, seen, _ = self._states.get(public_id, (since, token, None))
        return look > since and seen != token

    def _start(self):
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._watch, name="transfer-status-watcher", daemon=True)
            self._thread.start()

    def _watch(self):
        changes, bell = DatabaseChanges(), Bell()
        while True:
            with self._lock:
                self._stop_lingering()
                while not self._waiting and not self._lingering:
                    # Idle: give the database connection (and the bell's) back until a request waits again.
                    connection.close()
                    bell.close()
                    self._work.wait()
                watched, joined, self._joined = [*self._waiting, *self._lingering], self._joined, set()
                anyone_waits = bool(self._waiting)
                self._looks += 1
                look = self._looks
            try:
                # Reading the transfers only after a commit (or when someone new waits) keeps
                # the ticks nearly free while a worker stylizes on the same machine.
                changed = changes.happened()
                states = self._read(watched) if anyone_waits and (changed or joined) else {}
                if changed and not anyone_waits:
                    self._forget_lingering()
            except DatabaseError:
                # Waiting requests time out and ask again; the next tick may find the database back.
                logger.warning("Could not read the status of waiting transfers.", exc_info=True)
                connection.close()
                states = {}
            if states:
                with self._lock:
                    self._record(look, states, joined)
            # A worker's commit rings the bell: the look follows at once rather than at the next tick.
            bell.wait(check_interval())

    def _record(self, look, states, joined):
        """Keep what a look read, and wake the requests it answers (called holding the lock).

        Those are the requests waiting on a transfer whose token changed, and those that
        started waiting before the look began: they may hold an older token than the
        one kept here.
        """
        for public_id, (token, state) in states.items():
            if public_id in self._waiting or public_id in self._lingering:
                previous = self._states.get(public_id)
                self._states[public_id] = (look, token, state)
                waiters = self._waiting.get(public_id)
                if waiters is not None and (previous is None or previous[1] != token or public_id in joined):
                    waiters.update.notify_all()

    def _forget_lingering(self):
        """Drop the states of the transfers nobody waits on: they may be out of date."""
        with self._lock:
            for public_id in self._lingering:
                self._states.pop(public_id, None)

    def stop_lingering(self):
        """Stop watching the transfers nobody waits on now, whatever their lingering time (for tests)."""
        with self._lock:
            self._stop_lingering(now=float("inf"))

    def _stop_lingering(self, now=None):
        """Stop watching the transfers whose lingering time is over (called holding the lock)."""
        now = time.monotonic() if now is None else now
        for public_id in [public_id for public_id, until in self._lingering.items() if until <= now]:
            del self._lingering[public_id]
            self._states.pop(public_id, None)

    def _read(self, public_ids):
        """``(token, state)`` of each transfer (None, None once deleted), in one query (two while any is queued).

        A state is built again only for a transfer whose token changed.
        """
        transfers = {transfer.public_id: transfer for transfer in Transfer.objects.filter(public_id__in=public_ids)}
        positions = {}
        if any(transfer.status == Transfer.Status.QUEUED for transfer in transfers.values()):
            positions = Transfer.objects.queue_positions()
        with self._lock:
            known = {public_id: self._states[public_id][1:] for public_id in transfers if public_id in self._states}
        read = {public_id: (None, None) for public_id in public_ids}
        for public_id, transfer in transfers.items():
            token = _token(transfer, positions.get(public_id))
            if known.get(public_id, (None,))[0] == token:
                read[public_id] = known[public_id]
            else:
                read[public_id] = (token, progress(transfer, positions))
        return read


watcher = Watcher()
