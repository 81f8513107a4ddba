"""``manage.py download_models``: fetch the models once, for machines that run offline.

The TFLite files and AdaIN's graphs are checked against the SHA-256 digests below
before they are put in place, so a truncated or tampered download never reaches
an engine. The TF-Hub model goes into ``tensorflow_hub``'s cache under the
project's model folder. No one publishes the normalised VGG-19 as arrays, so
``--engine vgg`` derives them from AdaIN's encoder graph (the same network, its
8-bit weights dequantized), unless ``--source`` has the npz.
"""
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ... import conf, engines
from ...exceptions import ModelUnavailable
from ...methods import adain, gatys, magenta

ENGINES = ("lite", "hub", "adain", "vgg")

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
        parser.add_argument("--engine", choices=ENGINES + ("all",), default="all",
                            help="Which model to fetch (default: all). vgg: the VGG-19 arrays Gatys measures with.")
        parser.add_argument("--base-url", help="Fetch the files from here instead of NST_MODEL_BASE_URL (lite) "
                                               "or NST_ADAIN_BASE_URL (adain, vgg).")
        parser.add_argument("--source", type=Path,
                            help="Copy the files from this local folder instead of downloading them.")
        parser.add_argument("--missing", action="store_true",
                            help="Fetch only what the methods that cannot run here need; say what could not be "
                                 "fetched (offline, say) and exit 0, so `./run` can always go on to start the site.")

    def handle(self, *args, engine, base_url, source, missing, **options):
        if missing:
            return self.fetch_missing(base_url, source)
        if engine in ("lite", "all"):
            self.fetch_lite(base_url or conf.model_base_url(), source)
        if engine in ("hub", "all"):
            self.fetch_hub()
        if engine in ("adain", "all"):
            self.fetch_adain(base_url or conf.adain_base_url(), source)
        if engine == "vgg" and source:
            self.copy_vgg(source)
        elif engine == "vgg":
            self.fetch_adain(base_url or conf.adain_base_url(), None)
            self.derive_vgg()
        elif engine == "all":
            self.derive_vgg()

    def fetch_missing(self, base_url, source):
        """For each method whose check fails, fetch what its declaration says fetches it; report, never fail.

        The VGG-19 arrays are derived from AdaIN's encoder, so once AdaIN's graphs could
        not be fetched they are not asked for again (offline, each attempt waits for DNS).
        """
        failed = set()
        for name in engines.METHODS:
            try:
                declaration = engines.method_class(name)
                declaration.check_available()
            except ModelUnavailable:
                pass
            else:
                self.stdout.write(f"{declaration.label}: ready")
                continue
            if not getattr(declaration, "download", ""):
                self.stdout.write(f"{name}: unavailable, and nothing to download for it")
                continue
            if declaration.download == "vgg" and "adain" in failed:
                self.stderr.write(f"{declaration.label}: not fetched (its weights come from AdaIN's graphs, which "
                                  "could not be fetched). The upload page says how to fix it.")
                continue
            try:
                self.handle(engine=declaration.download, base_url=base_url, source=source, missing=False)
            except CommandError as error:
                failed.add(declaration.download)
                self.stderr.write(f"{declaration.label}: not fetched ({error}) The upload page says how to fix it.")

    def fetch_lite(self, base_url, source):
        """Put every file of Magenta's TFLite downloads, verified, into ``conf.lite_model_dir()``."""
        self.fetch_manifest("TFLite models", magenta.LITE_DOWNLOADS, conf.lite_model_dir(), base_url, source)

    def fetch_adain(self, base_url, source):
        """Put AdaIN's two graphs, verified, into ``conf.adain_model_dir()``."""
        self.fetch_manifest("AdaIN graphs", adain.DOWNLOADS, conf.adain_model_dir(), base_url, source)

    def fetch_manifest(self, title, manifest, folder, base_url, source):
        """Put every file of ``manifest`` (name -> SHA-256), verified, into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        origin = source or base_url
        self.stdout.write(f"{title}: {origin} -> {folder}")
        for name, expected in manifest.items():
            target = folder / name
            if target.is_file() and sha256_of(target) == expected:
                self.stdout.write(f"  {name}: already present and verified")
                continue
            location = str(source / name) if source else f"{base_url.rstrip('/')}/{name}"
            install_verified(location, target, expected, opener=_open_file if source else _open_url)
            self.stdout.write(self.style.SUCCESS(f"  {name}: fetched and verified"))

    def copy_vgg(self, source):
        """Copy the VGG-19 npz from the folder ``source``, verified, to ``conf.vgg_weights_path()``."""
        target = conf.vgg_weights_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"VGG-19 weights: {source} -> {target}")
        if target.is_file() and sha256_of(target) == gatys.VGG_SHA256:
            self.stdout.write(f"  {target.name}: already present and verified")
            return
        install_verified(str(source / gatys.VGG_FILE), target, gatys.VGG_SHA256, opener=_open_file)
        self.stdout.write(self.style.SUCCESS(f"  {target.name}: copied and verified"))

    def derive_vgg(self):
        """Write the VGG-19 npz from the (verified) AdaIN encoder graph to ``conf.vgg_weights_path()``."""
        # Imported here so that the other engines work without loading TensorFlow.
        from ...engines.adain import encoder_arrays

        target = conf.vgg_weights_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        self.stdout.write(f"VGG-19 weights: dequantized from {conf.adain_model_dir()} -> {target}")
        with replaced_atomically(target) as output:
            np.savez(output, **encoder_arrays(conf.adain_model_dir()))
        self.stdout.write(self.style.SUCCESS(f"  {target.name}: written"))

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
    only once verified (see :func:`replaced_atomically`). Raises CommandError
    naming the file and both digests on a mismatch.
    """
    with replaced_atomically(target) as output:
        actual = _copy_hashing(opener(location), output, location)
        if actual != expected:
            raise CommandError(
                f"{target.name} from {location} failed verification: "
                f"expected SHA-256 {expected}, got {actual}; it was discarded."
            )


@contextmanager
def replaced_atomically(target):
    """A binary file to write that replaces ``target`` when the block ends without an error.

    On any error the partial file is deleted and ``target`` is left as it was.
    """
    descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as output:
            yield output
        # mkstemp makes the file private; the web server's user must be able to read it.
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _copy_hashing(source, output, location):
    """Stream ``source`` into ``output``, closing ``source``, with a progress bar; return the bytes' SHA-256."""
    digest = hashlib.sha256()
    size = int(getattr(source, "headers", {}).get("Content-Length") or 0) or None
    try:
        # disable=None: the bar shows on a terminal and stays out of logs.
        with source, tqdm(total=size, unit="B", unit_scale=True, desc=Path(location).name, leave=False,
                          disable=None) as bar:
            for chunk in iter(lambda: source.read(CHUNK_BYTES), b""):
                digest.update(chunk)
                output.write(chunk)
                bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as error:
        raise CommandError(f"Could not fetch {location}: {error!r}.") from error
    return digest.hexdigest()
