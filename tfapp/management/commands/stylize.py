from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tfapp import engines, presets, regions, trained_styles
from tfapp.exceptions import StyleTransferError
from tfapp.imaging import open_image
from tfapp.methods import magenta
from tfapp.methods.base import Progress
from tfapp.pipeline import Options, stylize


class Command(BaseCommand):
    help = ("Stylize CONTENT in the style of one or more STYLEs (image paths, or preset:NAME for a preset; "
            "or one trained:NAME, a network trained with train_style) and write the result to OUT "
            "(PNG, JPEG or WebP by extension).")

    def add_arguments(self, parser):
        parser.add_argument("content", type=Path, help="The photo to repaint.")
        parser.add_argument("styles", nargs="+", metavar="style", help="Style image path(s), preset:NAME, or one trained:NAME.")
        parser.add_argument("-o", "--output", type=Path, required=True, help="Where to write the result.")
        parser.add_argument("--weights", help="Comma-separated blending weights, one per style (default: equal).")
        parser.add_argument("--strength", type=int, default=100, help="Stylization strength, 0-100 (default 100).")
        parser.add_argument("--preserve-colours", action="store_true", help="Keep the photo's colours.")
        parser.add_argument("--method", choices=engines.names(), default=engines.DEFAULT_METHOD,
                            help=f"Style-transfer method (default: {engines.DEFAULT_METHOD}).")
        parser.add_argument("--quality", help="The method's quality preset, e.g. draft, standard or fine for gatys.")
        parser.add_argument("--engine", choices=sorted(magenta.ENGINES),
                            help="The magenta method's implementation (default: the NST_ENGINE setting).")
        parser.add_argument("--max-size", type=int, help="Long side of the result in pixels (default: setting).")
        parser.add_argument("--style-size", type=int, help="Long side the style is seen at (default: setting).")
        parser.add_argument("--no-style-pooling", dest="style_pooling", action="store_false", default=None,
                            help="Do not smooth the style image before predicting its style.")
        parser.add_argument("--mask", type=Path,
                            help="Regions painted on the photo: a PNG of its size or aspect ratio, one 8-bit channel "
                                 "whose value k (0-3) puts the pixel in region k (region k takes style k).")
        parser.add_argument("--region-styles",
                            help="Each region's style, region 0 first: the 1-based position of a style given, or "
                                 "keep, e.g. 2,1,keep (needs --mask).")
        parser.add_argument("--feather", type=int, default=0,
                            help="Soften the edges between regions by this many pixels (needs --mask).")

    def handle(self, *args, content, styles, output, weights, strength, preserve_colours, method, quality, engine,
               max_size, style_size, style_pooling, mask, region_styles, feather, **options):
        _check_numbers(max_size, style_size, strength)
        if len(styles) == 1 and trained_styles.style_name(styles[0]):
            method, styles = styles[0], [str(_painting_of(styles[0]))]
        if engine and method != magenta.MagentaMethod.name:
            raise CommandError(f"--engine chooses the {magenta.MagentaMethod.name} method's implementation; "
                               f"leave it out with --method {method}.")
        try:
            model = magenta.ENGINES[engine].engine_class()() if engine else engines.get(method)
            settings = Options(method=method, quality=quality, max_size=max_size, style_size=style_size,
                               style_pooling=style_pooling, strength=strength / 100,
                               preserve_colours=preserve_colours).resolved()
            inputs = [_style(name, model, settings) for name in styles]
            photo = open_image(content)
            painted = _regions(mask, photo.size, len(styles), region_styles, feather)
            stylized = stylize(photo, list(zip(inputs, _weights(weights, len(styles)))), settings, method=model,
                               progress=_report_to(self.stdout) if model.capabilities.previews else None,
                               regions=painted)
        except (StyleTransferError, ValueError) as error:
            raise CommandError(str(error)) from error
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            stylized.image.save(output)
        except (OSError, ValueError) as error:
            raise CommandError(f"Could not write {output}: {error}") from error
        if model.capabilities.previews:
            self.stdout.write("")
        width, height = stylized.image.size
        self.stdout.write(f"Wrote {output} ({width}x{height}, model {stylized.model_seconds:.2f} s).")


def _painting_of(method):
    """A trained style's painting (the style its transfers record). Raises CommandError when there is no such style."""
    try:
        return engines.method_class(method).painting
    except StyleTransferError as error:
        raise CommandError(str(error)) from error


def _regions(mask, photo_size, style_count, region_styles, feather):
    """The Regions of ``--mask`` (None without one). Raises CommandError with the reason a mask is refused."""
    if mask is None:
        if region_styles or feather:
            raise CommandError("--region-styles and --feather apply to the regions of --mask; give a mask.")
        return None
    try:
        data = mask.read_bytes()
    except OSError as error:
        raise CommandError(f"Could not read the mask {mask}: {error.strerror or error}") from error
    return regions.build(data, photo_size, style_count, region_styles, feather)


def _check_numbers(max_size, style_size, strength):
    for size in (max_size, style_size):
        if size is not None and size < 1:
            raise CommandError("Sizes must be positive numbers of pixels.")
    if not 0 <= strength <= 100:
        raise CommandError("The strength must be between 0 and 100.")


def _style(name, method, options):
    """A style image from a path, or what the method takes of a preset (``preset:NAME``)."""
    try:
        preset = presets.named(name)
    except LookupError as error:
        raise CommandError(str(error)) from error
    return open_image(Path(name)) if preset is None else presets.style_input(preset, method, options)


class _report_to(Progress):
    """Prints a long method's progress, at most once per whole percent."""

    def __init__(self, stream):
        self._stream = stream
        self._shown = -1

    def report(self, fraction, preview=None):
        percent = int(fraction * 100)
        if percent > self._shown:
            self._shown = percent
            self._stream.write(f"\r{percent:3d} %", ending="")
            self._stream.flush()


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
