"""The result page's status requests: long-polling for a change, and noticing commits cheaply."""
import threading
import time
import uuid

import pytest
from django.db import connection, transaction
from django.urls import reverse

from tfapp.changes import DatabaseChanges
from tfapp.models import Transfer
from tfapp.progress import watcher

from .factories import make_transfer

pytestmark = pytest.mark.django_db(transaction=True)


def _status(client, transfer, after=None):
    return client.get(reverse("tfapp:status", args=[transfer.public_id]), {"after": after} if after else {})


def _status_while(client, transfer, seconds, change):
    """The status answer to a page that waits with its current token while ``change`` happens after ``seconds``."""
    token = _status(client, transfer).json()["token"]
    timer = _later(seconds, change)
    response = _status(client, transfer, after=token)
    timer.join()
    return response


def _update(transfer, **fields):
    """A change for :func:`_later`: ``fields`` written to ``transfer``'s row."""
    return lambda: Transfer.objects.filter(pk=transfer.pk).update(**fields)


def _later(seconds, change):
    """Run ``change`` from another thread (its own database connection) after ``seconds``."""
    def run():
        try:
            change()
        finally:
            connection.close()

    timer = threading.Timer(seconds, run)
    timer.start()
    return timer


def test_status_answers_at_once_when_the_page_shows_an_older_state(client):
    """A page that names a state other than the current one gets the current state without waiting."""
    transfer = make_transfer()
    payload = _status(client, transfer, after="queued-1-0").json()
    assert payload["status"] == "done" and payload["token"] == "done-0-1-100-"


def test_status_waits_until_the_transfer_changes(client, settings):
    """Naming the current state holds the answer until a worker moves the transfer on."""
    settings.NST_STATUS_WAIT = 30
    transfer = make_transfer(run=False)
    token = _status(client, transfer).json()["token"]
    timer = _later(0.3, _update(transfer, status=Transfer.Status.RUNNING, attempts=1))
    payload = _status(client, transfer, after=token).json()
    timer.join()
    assert payload["status"] == "running" and payload["attempts"] == 1
    assert payload["token"] != token


def test_a_waiting_page_learns_that_it_moved_up_the_queue(client, settings):
    """When the transfer ahead is taken by a worker, the one behind it is told it is now first."""
    settings.NST_STATUS_WAIT = 30
    ahead, behind = make_transfer(run=False), make_transfer(run=False)
    payload = _status_while(client, behind, 0.3, _update(ahead, status=Transfer.Status.RUNNING)).json()
    assert payload["status"] == "queued" and payload["queue_position"] == 1


def test_status_gives_up_waiting_after_the_limit_with_the_same_state(client, settings):
    """Nothing changing for NST_STATUS_WAIT seconds answers the unchanged state, so the page asks again."""
    settings.NST_STATUS_WAIT = 0.3
    transfer = make_transfer(run=False)
    token = _status(client, transfer).json()["token"]
    payload = _status(client, transfer, after=token).json()
    assert payload["status"] == "queued" and payload["token"] == token


def test_a_transfer_deleted_while_its_page_waits_answers_a_json_404(client, settings):
    """Deleting a transfer someone is waiting on ends the wait with the reason."""
    settings.NST_STATUS_WAIT = 30
    transfer = make_transfer(run=False)
    response = _status_while(client, transfer, 0.3, lambda: Transfer.objects.get(pk=transfer.pk).delete())
    assert response.status_code == 404
    assert "no transfer with this id" in response.json()["error"]


def test_long_polling_can_be_turned_off(client, settings):
    """With NST_STATUS_WAIT = 0 the status answers at once even when nothing changed."""
    settings.NST_STATUS_WAIT = 0
    transfer = make_transfer(run=False)
    payload = _status_while(client, transfer, 0.5, _update(transfer, status=Transfer.Status.RUNNING)).json()
    assert payload["status"] == "queued"


def test_many_pages_waiting_at_once_are_each_told_of_their_own_change(settings):
    """Eight pages wait on eight transfers; finishing them in turn answers each with its own new state."""
    from django.test import Client

    settings.NST_STATUS_WAIT = 30
    transfers = [make_transfer(run=False) for _ in range(8)]
    answers = {}

    def wait(transfer):
        try:
            token = _status(Client(), transfer).json()["token"]
            answers[transfer.public_id] = _status(Client(), transfer, after=token).json()
        finally:
            connection.close()

    pages = [threading.Thread(target=wait, args=(transfer,)) for transfer in transfers]
    for page in pages:
        page.start()

    def fail_all():
        with transaction.atomic():  # one commit, so no page sees only its place in the queue change
            for transfer in transfers:
                Transfer.objects.filter(pk=transfer.pk).update(status=Transfer.Status.FAILED,
                                                               error_message=f"stopped {transfer.pk}")

    timer = _later(0.5, fail_all)
    for page in pages:
        page.join(60)
    timer.join()
    assert {public_id: answer["error"] for public_id, answer in answers.items()} == {
        transfer.public_id: f"stopped {transfer.pk}" for transfer in transfers}


def test_a_change_answers_only_the_pages_waiting_on_that_transfer(settings):
    """Of two waiting pages, the one whose transfer starts is answered; the other waits out its time unchanged."""
    from django.test import Client

    settings.NST_STATUS_WAIT = 2
    moving, still = make_transfer(run=False), make_transfer(run=False)
    Transfer.objects.filter(pk=still.pk).update(queue="slow")  # so its place does not change either
    answers = {}

    def wait(transfer):
        try:
            token = _status(Client(), transfer).json()["token"]
            answers[transfer.public_id] = (token, _status(Client(), transfer, after=token).json())
        finally:
            connection.close()

    pages = [threading.Thread(target=wait, args=(transfer,)) for transfer in (moving, still)]
    for page in pages:
        page.start()
    timer = _later(0.5, _update(moving, status=Transfer.Status.RUNNING))
    for page in pages:
        page.join(30)
    timer.join()
    assert answers[moving.public_id][1]["status"] == "running"
    still_token, still_answer = answers[still.public_id]
    assert still_answer["status"] == "queued" and still_answer["token"] == still_token


def test_queue_positions_match_each_transfers_own_position():
    """The one-query positions the watcher uses agree with Transfer.queue_position, ties included."""
    transfers = [make_transfer(run=False) for _ in range(4)]
    Transfer.objects.filter(pk=transfers[2].pk).update(queued_at=transfers[1].queued_at)
    Transfer.objects.filter(pk=transfers[0].pk).update(status=Transfer.Status.RUNNING)
    positions = Transfer.objects.queue_positions()
    assert positions == {transfer.public_id: Transfer.objects.get(pk=transfer.pk).queue_position
                         for transfer in transfers[1:]}
    assert sorted(positions.values()) == [1, 1, 3]


@pytest.mark.skipif("connection.vendor != 'sqlite'")
def test_database_changes_notices_commits_by_other_connections_only():
    """The SQLite commit counter says 'changed' after another connection writes, and not otherwise."""
    changes = DatabaseChanges()
    assert changes.happened()  # the first check has nothing to compare with
    assert not changes.happened()
    make_transfer(run=False)  # this connection's own writes
    assert not changes.happened()
    _later(0, lambda: make_transfer(run=False)).join()
    assert changes.happened()
    assert not changes.happened()


def test_status_of_a_transfer_that_never_existed_is_a_json_404_even_when_waiting(client):
    """An unknown id with a token answers 404 at once, without waiting."""
    response = client.get(reverse("tfapp:status", args=[uuid.uuid4()]), {"after": "queued-1-0"})
    assert response.status_code == 404


def test_a_page_asking_again_at_once_is_answered_without_reading_the_database(client, settings,
                                                                             django_assert_num_queries):
    """The request that follows an answer finds its state with the watcher, and waits on it without a query."""
    settings.NST_STATUS_WAIT = 30
    transfer = make_transfer(run=False)
    changed = _status_while(client, transfer, 0.3, _update(transfer, status=Transfer.Status.RUNNING)).json()
    settings.NST_STATUS_WAIT = 0.2
    with django_assert_num_queries(0):
        again = _status(client, transfer, after=changed["token"]).json()
    assert again == changed


def test_a_commit_while_no_page_waits_is_not_read_but_forgotten(client, settings):
    """A web process where no page waits spends no query on a commit: it forgets the states it kept, and the
    next request reads its own, the new one, at once."""
    settings.NST_STATUS_WAIT = 30
    transfer = make_transfer(run=False)
    running = _status_while(client, transfer, 0.3, _update(transfer, status=Transfer.Status.RUNNING)).json()
    assert watcher.latest(transfer.public_id)["token"] == running["token"]  # kept for the page's next request
    _later(0, lambda: Transfer.objects.filter(pk=transfer.pk).update(status=Transfer.Status.DONE)).join()
    deadline = time.monotonic() + watcher.LINGER_SECONDS / 2  # before it would stop following it anyway
    while watcher.latest(transfer.public_id) is not None:
        assert time.monotonic() < deadline, "the watcher kept a state older than the database's"
        time.sleep(0.01)
    settings.NST_STATUS_WAIT = 0.2  # the answer must not wait for a look
    assert _status(client, transfer, after=running["token"]).json()["status"] == "done"
