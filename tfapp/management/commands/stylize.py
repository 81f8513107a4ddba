from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tfapp import engines
from tfapp.exceptions import StyleTransferError
from tfapp.imaging import open_image
from tfapp.models import StylePreset
from tfapp.pipeline import Options, stylize
from tfapp.presets import preset_vector

PRESET_PREFIX = "preset:"


class Command(BaseCommand):
    help = ("Stylize CONTENT in the style of one or more STYLEs (image paths, or preset:NAME for a preset) "
            "and write the result to OUT (PNG, JPEG or WebP by extension).")

    def add_arguments(self, parser):
        parser.add_argument("content", type=Path, help="The photo to repaint.")
        parser.add_argument("styles", nargs="+", metavar="style", help="Style image path(s) or preset:NAME.")
        parser.add_argument("-o", "--output", type=Path, required=True, help="Where to write the result.")
        parser.add_argument("--weights", help="Comma-separated blending weights, one per style (default: equal).")
        parser.add_argument("--strength", type=int, default=100, help="Stylization strength, 0-100 (default 100).")
        parser.add_argument("--preserve-colours", action="store_true", help="Keep the photo's colours.")
        parser.add_argument("--engine", choices=sorted(engines.ENGINES),
                            help="Engine to use (default: the NST_ENGINE setting).")
        parser.add_argument("--max-size", type=int, help="Long side of the result in pixels (default: setting).")
        parser.add_argument("--style-size", type=int, help="Long side the style is seen at (default: setting).")
        parser.add_argument("--no-style-pooling", dest="style_pooling", action="store_false", default=None,
                            help="Do not smooth the style image before predicting its style.")

    def handle(self, *args, content, styles, output, weights, strength, preserve_colours, engine, max_size,
               style_size, style_pooling, **options):
        _check_numbers(max_size, style_size, strength)
        try:
            model = engines.create(engine) if engine else engines.get_engine()
            settings = Options(max_size, style_size, style_pooling, strength / 100, preserve_colours).resolved()
            inputs = [_style(name, model, settings) for name in styles]
            stylized = stylize(open_image(content), list(zip(inputs, _weights(weights, len(styles)))), settings,
                               engine=model)
        except (StyleTransferError, ValueError) as error:
            raise CommandError(str(error)) from error
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            stylized.image.save(output)
        except (OSError, ValueError) as error:
            raise CommandError(f"Could not write {output}: {error}") from error
        width, height = stylized.image.size
        self.stdout.write(f"Wrote {output} ({width}x{height}, model {stylized.model_seconds:.2f} s).")


def _check_numbers(max_size, style_size, strength):
    for size in (max_size, style_size):
        if size is not None and size < 1:
            raise CommandError("Sizes must be positive numbers of pixels.")
    if not 0 <= strength <= 100:
        raise CommandError("The strength must be between 0 and 100.")


def _style(name, engine, options):
    """A style image, or a preset's stored style vector when the engine takes vectors."""
    if not name.startswith(PRESET_PREFIX):
        return open_image(Path(name))
    preset = StylePreset.objects.filter(name__iexact=name[len(PRESET_PREFIX):]).first()
    if preset is None:
        known = ", ".join(StylePreset.objects.values_list("name", flat=True)) or "none; see load_presets"
        raise CommandError(f"No preset called {name[len(PRESET_PREFIX):]!r}. Presets: {known}.")
    if engine.supports_style_vectors:
        return preset_vector(preset, engine, options.style_size, options.style_pooling)
    with preset.image.open("rb") as stored:
        return open_image(stored)


def _weights(text, count):
    if text is None:
        return [1.0] * count
    try:
        weights = [float(part) for part in text.split(",")]
    except ValueError as error:
        raise CommandError(f"--weights must be numbers separated by commas, not {text!r}.") from error
    if len(weights) != count:
        raise CommandError(f"--weights has {len(weights)} numbers for {count} styles.")
    return weights
