"""``manage.py load_presets DIR``: add the paintings in a folder to the preset styles."""
import json
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError

from tfapp import conf, engines
from tfapp.exceptions import ModelUnavailable, StyleTransferError
from tfapp.imaging import encode_thumbnail, open_image
from tfapp.models import StylePreset
from tfapp.presets import preset_vector

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}

#: Details of well-known public-domain paintings, by file name, used when the folder has no presets.json.
KNOWN_PAINTINGS = {
    "starry_night": {"name": "The Starry Night", "artist": "Vincent van Gogh", "year": 1889},
    "the_scream": {"name": "The Scream", "artist": "Edvard Munch", "year": 1893},
    "shipwreck": {"name": "The Shipwreck", "artist": "J. M. W. Turner", "year": 1805},
    "woman_with_hat": {"name": "Woman with a Hat", "artist": "Henri Matisse", "year": 1905},
}


class Command(BaseCommand):
    help = ("Load every image in DIR as a preset style (updating presets of the same name) and store its "
            "style vector. Details come from DIR/presets.json ({file name: {name, artist, year, licence}}) "
            "when present.")

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)
        parser.add_argument("--licence", default="Public domain", help="Licence of paintings without one.")

    def handle(self, *args, folder, licence, **options):
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not paths:
            raise CommandError(f"{folder} has no images ({', '.join(sorted(IMAGE_SUFFIXES))}).")
        details = _details_file(folder)
        engine, reason = _engine_or_reason()
        for path in paths:
            preset, created = self._load(path, {"licence": licence, **_details(path, details)})
            stored = self._store_vector(preset, engine, reason)
            self.stdout.write(f"{'Added' if created else 'Updated'} {preset}{stored}")

    def _load(self, path, details):
        try:
            image = open_image(path)
        except StyleTransferError as error:
            raise CommandError(f"{path}: {error}") from error
        preset = StylePreset.objects.filter(name=details["name"]).first() or StylePreset(name=details["name"])
        created = preset.pk is None
        for stored in preset.files():
            stored.delete(save=False)
        preset.artist, preset.year, preset.licence = details.get("artist", ""), details.get("year"), details["licence"]
        preset.style_vectors = {}
        preset.image.save(path.name, ContentFile(path.read_bytes()), save=False)
        preset.thumbnail.save(f"{path.stem}-thumb.jpg", ContentFile(encode_thumbnail(image)), save=False)
        preset.save()
        return preset, created

    def _store_vector(self, preset, engine, reason):
        if engine is None:
            return f" (style vector not stored yet, the model is unavailable: {reason})"
        if not engine.capabilities.style_vectors:
            return " (no style vector: this engine takes the image instead)"
        preset_vector(preset, engine, conf.style_size(), conf.style_pooling())
        return f" with its style vector at {conf.style_size()} px"


def _details_file(folder):
    path = folder / "presets.json"
    if not path.exists():
        return {}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CommandError(f"{path} is not valid JSON: {error}") from error


def _details(path, details):
    """The preset's name, artist, year and licence for the image at ``path``."""
    known = details.get(path.name) or KNOWN_PAINTINGS.get(path.stem)
    return dict(known) if known else {"name": path.stem.replace("_", " ").replace("-", " ").title()}


def _engine_or_reason():
    """Magenta's engine and None, or None and why it is unavailable (vectors are then computed on first use)."""
    try:
        return engines.get(engines.DEFAULT_METHOD), None
    except ModelUnavailable as error:
        return None, str(error)
