"""``manage.py download_models``: fetch the models once, for machines that run offline.

The TFLite files are checked against the SHA-256 digests below before they are put
in place, so a truncated or tampered download never reaches the engine. The TF-Hub
model goes into ``tensorflow_hub``'s cache under the project's model folder.
"""
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ... import conf
from ...exceptions import ModelUnavailable

#: The Magenta TFLite files and their published SHA-256 digests.
LITE_MANIFEST = {
    "style_predict_quantized_256.tflite": "203dbd6a09da1091ab7e48e8b101aef8c2d81438ad047a5cb150747a977134c1",
    "style_transfer_f16_384.tflite": "c60cff7395544eda1f0915d6dddaedd8ed868cefe8ec6c5ed220ba801f120303",
    "style_transfer_quantized_384.tflite": "1972f7d438b6e9ff326c466db1a8005a8a0efa0274886bbd52f91dc8be2f4f04",
    "style_transfer_quantized_dynamic.tflite": "69b191c1f1f3f6520634293803a528469015a00269f982ebd38b7850f68d9341",
}

#: Seconds a connection may stay silent before a download is abandoned.
TIMEOUT = 60

CHUNK_BYTES = 1 << 20


def sha256_of(path):
    """The hex SHA-256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Command(BaseCommand):
    help = "Download the style-transfer models into the project's model folder, checking their SHA-256."
    # The system checks would only warn that the models this command fetches are missing.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--engine", choices=("lite", "hub", "all"), default="all",
                            help="Which engine's model to fetch (default: all).")
        parser.add_argument("--base-url", help="Fetch the TFLite files from here instead of NST_MODEL_BASE_URL.")
        parser.add_argument("--source", type=Path,
                            help="Copy the TFLite files from this local folder instead of downloading them.")

    def handle(self, *args, engine, base_url, source, **options):
        if engine in ("lite", "all"):
            self.fetch_lite(base_url or conf.model_base_url(), source)
        if engine in ("hub", "all"):
            self.fetch_hub()

    def fetch_lite(self, base_url, source):
        """Put every file of LITE_MANIFEST, verified, into ``conf.lite_model_dir()``."""
        folder = conf.lite_model_dir()
        folder.mkdir(parents=True, exist_ok=True)
        origin = source or base_url
        self.stdout.write(f"TFLite models: {origin} -> {folder}")
        for name, expected in LITE_MANIFEST.items():
            target = folder / name
            if target.is_file() and sha256_of(target) == expected:
                self.stdout.write(f"  {name}: already present and verified")
                continue
            location = str(source / name) if source else f"{base_url.rstrip('/')}/{name}"
            install_verified(location, target, expected, opener=_open_file if source else _open_url)
            self.stdout.write(self.style.SUCCESS(f"  {name}: fetched and verified"))

    def fetch_hub(self):
        """Download ``conf.hub_handle()`` into the TF-Hub cache and say where it is."""
        # Imported here so that `--engine lite` works without loading TensorFlow.
        from ...engines import hub

        handle = conf.hub_handle()
        self.stdout.write(f"TF-Hub model: {handle} -> {conf.hub_cache_dir()}")
        try:
            path = hub.resolve(handle)
        except ModelUnavailable as error:
            raise CommandError(str(error)) from error
        self.stdout.write(self.style.SUCCESS(f"  ready in {path}"))


def _open_url(location):
    """The response for ``location``, a URL. Raises CommandError."""
    try:
        return urllib.request.urlopen(location, timeout=TIMEOUT)
    except urllib.error.HTTPError as error:
        raise CommandError(f"Could not download {location}: {error}.") from error
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", error)
        raise CommandError(f"Could not download {location}: {reason}.") from error


def _open_file(location):
    """The file at ``location`` opened for reading bytes. Raises CommandError."""
    try:
        return open(location, "rb")
    except OSError as error:
        raise CommandError(f"Could not read {location}: {error.strerror}.") from error


def install_verified(location, target, expected, opener):
    """Copy what ``opener(location)`` yields to ``target`` if its SHA-256 is ``expected``.

    The bytes go to a temporary file beside ``target``, which replaces ``target``
    atomically only once verified; on any failure no new file is left behind.
    Raises CommandError naming the file and both digests on a mismatch.
    """
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as output:
            actual = _copy_hashing(opener(location), output, location)
        if actual != expected:
            raise CommandError(
                f"{target.name} from {location} failed verification: "
                f"expected SHA-256 {expected}, got {actual}; it was discarded."
            )
        # mkstemp makes the file private; the web server's user must be able to read it.
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _copy_hashing(source, output, location):
    """Stream ``source`` into ``output``, closing ``source``; return the bytes' SHA-256."""
    digest = hashlib.sha256()
    try:
        with source:
            for chunk in iter(lambda: source.read(CHUNK_BYTES), b""):
                digest.update(chunk)
                output.write(chunk)
    except (OSError, http.client.HTTPException) as error:
        raise CommandError(f"Could not fetch {location}: {error!r}.") from error
    return digest.hexdigest()
