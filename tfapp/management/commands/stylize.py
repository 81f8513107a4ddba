from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from tfapp import engines
from tfapp.exceptions import StyleTransferError
from tfapp.imaging import open_image
from tfapp.pipeline import Options, stylize


class Command(BaseCommand):
    help = "Stylize CONTENT in the style of STYLE and write the result to OUT (PNG, JPEG or WebP by extension)."

    def add_arguments(self, parser):
        parser.add_argument("content", type=Path, help="The photo to repaint.")
        parser.add_argument("style", type=Path, help="The painting whose style to copy.")
        parser.add_argument("-o", "--output", type=Path, required=True, help="Where to write the result.")
        parser.add_argument("--engine", choices=sorted(engines.ENGINES),
                            help="Engine to use (default: the NST_ENGINE setting).")
        parser.add_argument("--max-size", type=int, help="Long side of the result in pixels (default: setting).")
        parser.add_argument("--style-size", type=int, help="Long side the style is seen at (default: setting).")
        parser.add_argument("--no-style-pooling", dest="style_pooling", action="store_false", default=None,
                            help="Do not smooth the style image before predicting its style.")

    def handle(self, *args, content, style, output, engine, max_size, style_size, style_pooling, **options):
        for size in (max_size, style_size):
            if size is not None and size < 1:
                raise CommandError("Sizes must be positive numbers of pixels.")
        try:
            model = engines.create(engine) if engine else engines.get_engine()
            stylized = stylize(open_image(content), open_image(style),
                               Options(max_size, style_size, style_pooling), engine=model)
            output.parent.mkdir(parents=True, exist_ok=True)
            stylized.image.save(output)
        except StyleTransferError as error:
            raise CommandError(str(error)) from error
        except (OSError, ValueError) as error:
            raise CommandError(f"Could not write {output}: {error}") from error
        width, height = stylized.image.size
        self.stdout.write(f"Wrote {output} ({width}x{height}, model {stylized.model_seconds:.2f} s).")
