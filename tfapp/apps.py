import os
import sys

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_in
from django.db.backends.signals import connection_created
from django.db.models.signals import post_delete


class TfappConfig(AppConfig):
    name = "tfapp"
    verbose_name = "Style transfer"

    def ready(self):
        from . import checks  # noqa: F401  (registers the system checks)
        from .changes import install_ringer
        from .clip_jobs import remove_frames_of_deleted
        from .models import StylePreset, Transfer, TransferStyle
        from .ownership import claim_session_transfers
        from .signals import delete_stored_files

        connection_created.connect(install_ringer, dispatch_uid="tfapp-ring-after-writes")
        user_logged_in.connect(claim_session_transfers, dispatch_uid="tfapp-claim-session-transfers")
        # Before the files: their folder is removed once empty.
        post_delete.connect(remove_frames_of_deleted, sender=Transfer, dispatch_uid="tfapp-delete-frames")
        for model in (Transfer, TransferStyle, StylePreset):
            post_delete.connect(delete_stored_files, sender=model, dispatch_uid=f"tfapp-delete-{model.__name__}")
        if _is_serving_process():
            from . import engines

            engines.availability()


def _is_serving_process():
    """True in the process that will answer requests: runserver's (or web's) child, or with --noreload.

    That process checks which methods can run before its first request (it never loads
    them: workers do). Management commands such as migrate, check and test collection
    skip the check; WSGI/ASGI servers run it in nst_site/wsgi.py instead.
    """
    if len(sys.argv) < 2 or sys.argv[1] not in ("runserver", "web"):
        return False
    return os.environ.get("RUN_MAIN") == "true" or "--noreload" in sys.argv
