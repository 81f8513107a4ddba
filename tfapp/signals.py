from functools import partial

from django.db import transaction


def delete_stored_files(sender, instance, **kwargs):
    """Delete a row's files once the row is really gone (after the transaction commits)."""
    stored = [(field.storage, field.name) for field in instance.files()]
    transaction.on_commit(partial(_delete, stored))


def _delete(stored):
    for storage, name in stored:
        storage.delete(name)
