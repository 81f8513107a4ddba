from django.db import transaction

from .processing import delete_files


def delete_transfer_files(sender, instance, **kwargs):
    """Delete a transfer's files once its row is really gone (after the transaction commits)."""
    transaction.on_commit(lambda: delete_files(instance))
