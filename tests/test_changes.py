"""The bell that wakes waiting workers and status requests as soon as a job table's write commits."""
import os
import socket

import pytest
from django.contrib.auth.models import User
from django.db import transaction

from tfapp import changes
from tfapp.models import Transfer
from tfapp.tasks import stylize_transfer

from .factories import make_transfer

pytestmark = [pytest.mark.databases, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def bell():
    bell = changes.Bell()
    assert bell.wait(0) == set()  # Opens its socket or listening connection; nothing has rung yet.
    yield bell
    bell.close()


def drained(bell):
    """Take the rings already sent (PostgreSQL delivers a NOTIFY a moment after its commit)."""
    while bell.wait(0.2):
        pass


def test_a_committed_write_to_a_transfer_rings_the_bell(bell):
    """A waiting process is woken by the write itself, not by its next look."""
    transfer = make_transfer(run=False)
    drained(bell)  # The rings of creating it.
    Transfer.objects.filter(pk=transfer.pk).update(progress=0.5)
    assert bell.wait(5) == {"tfapp_transfer"}


def test_writes_to_other_tables_do_not_ring(bell):
    """Signing up does not wake the workers."""
    User.objects.create_user("painter", password="x")
    assert bell.wait(0.2) == set()


def test_a_write_in_a_transaction_rings_only_once_it_commits(bell):
    """A woken process always finds the write it was woken for."""
    transfer = make_transfer(run=False)
    drained(bell)
    with transaction.atomic():
        Transfer.objects.filter(pk=transfer.pk).update(progress=0.25)
        assert bell.wait(0.2) == set()
    assert bell.wait(5) == {"tfapp_transfer"}


def test_a_rolled_back_write_does_not_ring(bell):
    """Nothing changed, so nobody is woken."""
    transfer = make_transfer(run=False)
    drained(bell)
    with pytest.raises(RuntimeError), transaction.atomic():
        Transfer.objects.filter(pk=transfer.pk).update(progress=0.75)
        raise RuntimeError
    assert bell.wait(0.2) == set()


@pytest.mark.skipif("os.environ.get('DATABASE_URL')", reason="SQLite's sockets only")
def test_the_socket_of_a_process_that_died_is_removed_at_the_next_ring(bell, settings):
    """A crashed worker leaves its socket behind; ringing tidies it up."""
    folder = changes._socket_folder(settings.DATABASES["default"]["NAME"])
    orphan = folder / "0-dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as dead:
        dead.bind(str(orphan))
    transfer = make_transfer(run=False)
    assert not orphan.exists()
    Transfer.objects.filter(pk=transfer.pk).update(progress=0.5)
    assert bell.wait(5) == {"tfapp_transfer"}
    assert not os.path.exists(orphan)


def test_writes_to_a_transfers_styles_do_not_ring(bell):
    """Storing a style's preview (tfapp_transferstyle, whose name begins like tfapp_transfer's) wakes nobody:
    neither the status nor the queue shows it."""
    transfer = make_transfer(run=False)
    drained(bell)
    transfer.styles.update(weight=0.5)
    assert bell.wait(0.2) == set()


def test_queueing_a_task_in_the_database_rings_the_bell(bell, worker_queue):
    """A waiting worker is woken by the task's own row, which a web process writes after the transfer's: woken by
    the transfer alone, it may look before the task is there and find it only at its next look."""
    transfer = make_transfer(run=False)
    drained(bell)
    stylize_transfer.using(queue_name="default").enqueue(transfer.pk)
    assert changes.TASK_TABLE in bell.wait(5)
