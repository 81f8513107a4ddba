"""The published trained styles on disk, read without loading TensorFlow.

Each is a folder ``trained_model_dir()/NAME/`` with ``metadata.json`` and a
SavedModel (written by :mod:`tfapp.engines.trained`). Folders whose name starts
with a dot are exports in progress or models being replaced, never listed.
"""
import json

from . import conf
from .exceptions import ModelUnavailable

METADATA_FILE = "metadata.json"
SAVED_MODEL_DIR = "saved_model"
#: The painting it was trained on, shown as the style of its transfers.
PAINTING_FILE = "style.png"
PREFIX = "trained:"


def method_name(name):
    """The method that runs the trained style ``name``: ``trained:NAME``."""
    return PREFIX + name


def style_name(method):
    """The trained style a method name runs, or ``None`` when ``method`` is not a trained style's."""
    return method[len(PREFIX):] if method.startswith(PREFIX) else None


def published_names():
    """The names of the published trained styles, sorted."""
    root = conf.trained_model_dir()
    if not root.is_dir():
        return []
    return sorted(folder.name for folder in root.iterdir()
                  if not folder.name.startswith(".") and (folder / METADATA_FILE).is_file())


def version(name):
    """What tells one export of the style ``name`` from the next, or ``None`` when none is published.

    An export renames a whole new folder into place, so the folder's inode and time change.
    """
    try:
        found = (conf.trained_model_dir() / name).stat()
    except OSError:
        return None
    return found.st_ino, found.st_mtime_ns


def read_metadata(folder):
    """The metadata of the published style in ``folder``. Raises ModelUnavailable."""
    try:
        return json.loads((folder / METADATA_FILE).read_text())
    except (OSError, ValueError) as error:
        raise ModelUnavailable(f"The trained style in {folder} has no readable {METADATA_FILE} ({error}).") from error
