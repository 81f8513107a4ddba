import os
import posixpath
from functools import partial

from django.db import transaction


def delete_stored_files(sender, instance, **kwargs):
    """Delete a row's files once the row is really gone (after the transaction commits)."""
    stored = [(field.storage, field.name) for field in instance.files()]
    transaction.on_commit(partial(_delete, stored))


def _delete(stored):
    for storage, name in stored:
        storage.delete(name)
    for storage, folder in {(storage, posixpath.dirname(name)) for storage, name in stored}:
        _remove_if_empty(storage, folder)


def _remove_if_empty(storage, folder):
    """Remove a folder the deleted files leave empty (a transfer's own), on storages with local paths."""
    if not folder:
        return
    try:
        os.rmdir(storage.path(folder))
    except NotImplementedError:
        return  # remote storage: folders are only prefixes of names
    except OSError:
        return  # other files are still in it, or it is gone already
