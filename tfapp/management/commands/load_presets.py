"""``manage.py load_presets DIR``: add the paintings in a folder to the preset styles."""
import json
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.management.base import BaseCommand, CommandError

from tfapp import conf, engines
from tfapp.exceptions import ModelUnavailable, StyleTransferError
from tfapp.imaging import encode_thumbnail, open_image
from tfapp.models import StylePreset
from tfapp.presets import stored_vector

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
            "style vector for each method that takes one (Magenta, AdaIN). Details come from DIR/presets.json ({file name: {name, artist, year, licence}}) "
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
        methods, reasons = _vector_methods()
        for path in paths:
            preset, created = self._load(path, {"licence": licence, **_details(path, details)})
            stored = self._store_vectors(preset, methods, reasons)
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

    def _store_vectors(self, preset, methods, reasons):
        for method in methods:
            pooling = conf.style_pooling() and method.smooths_style
            stored_vector(preset, method, conf.style_size(), pooling)
        said = f" with its style vectors for {', '.join(m.label for m in methods)} at {conf.style_size()} px" \
            if methods else ""
        later = "".join(f" ({label}'s style vector not stored yet, the model is unavailable: {reason})"
                        for label, reason in reasons.items())
        return said + later


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


def _vector_methods():
    """The loaded methods that take style vectors, and ``{label: why}`` for those unavailable (computed on first use)."""
    methods, reasons = [], {}
    for name in engines.METHODS:
        declared = engines.method_class(name)
        if not declared.capabilities.style_vectors:
            continue
        try:
            methods.append(engines.get(name))
        except ModelUnavailable as error:
            reasons[declared.label] = str(error)
    return methods, reasons
