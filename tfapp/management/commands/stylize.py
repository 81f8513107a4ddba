"""``manage.py stylize``: one photo or clip in a blend of styles, or every content with every style (a grid).

``stylize CONTENT STYLE... -o OUT`` repaints one photo or clip in the blend of the
styles (OUT a picture file, or ``.mp4`` for a clip), or, with ``--mask``, each region
painted on it in its own style (:mod:`tfapp.regions`). ``stylize PATH... --style
STYLE... -o OUTDIR`` takes every PATH as content (photos, clips, and folders
searched recursively for both) and writes each content in each style, separately,
as ``OUTDIR/<content>__<style>.<png|mp4>``; files that cannot be read are skipped,
listed at the end with the reason, and make the exit status non-zero.
"""
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from PIL import Image
from tqdm import tqdm

from tfapp import engines, pipeline, presets, regions, trained_styles, video
from tfapp.exceptions import StyleTransferError
from tfapp.imaging import EXTENSIONS, open_image
from tfapp.methods import magenta
from tfapp.methods.base import Progress
from tfapp.pipeline import Options, stylize

#: What a folder is searched for: pictures and clips, by name.
CONTENT_EXTENSIONS = set(EXTENSIONS.values()) | {".jpeg", ".tiff"} | set(video.VIDEO_EXTENSIONS)


class Command(BaseCommand):
    help = ("Stylize CONTENT (a photo or a clip) in the style of one or more STYLEs (image paths, or "
            "preset:NAME for a preset; or one trained:NAME, a network trained with train_style) and write the "
            "result to OUT (PNG, JPEG or WebP by extension; MP4 for a clip). With --style, every path given is "
            "a content (photos, clips or folders, searched recursively), each stylized in each style into the "
            "folder OUT as <content>__<style>.<png|mp4>.")

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="path",
                            help="CONTENT then STYLE(s); with --style, only contents (files or folders).")
        parser.add_argument("--style", dest="grid_styles", nargs="+", action="extend", metavar="STYLE",
                            help="Stylize every path in each of these styles separately; OUT is a folder.")
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
        parser.add_argument("--consistency", type=float,
                            help="Clips: 0-1, how much each frame keeps of the previous one along the motion "
                                 "(default: the NST_VIDEO_CONSISTENCY setting; 0: frames independent).")
        parser.add_argument("--mask", type=Path,
                            help="Regions painted on the photo or clip: a PNG of its size or aspect ratio, one 8-bit "
                                 "channel whose value k (0-3) puts the pixel in region k (region k takes style k).")
        parser.add_argument("--region-styles",
                            help="Each region's style, region 0 first: the 1-based position of a style given, or "
                                 "keep, e.g. 2,1,keep (needs --mask).")
        parser.add_argument("--feather", type=int, default=0,
                            help="Soften the edges between regions by this many pixels (needs --mask).")

    def handle(self, *args, paths, grid_styles, output, weights, strength, preserve_colours, method, quality,
               engine, max_size, style_size, style_pooling, consistency, mask, region_styles, feather, **options):
        _check_numbers(max_size, style_size, strength, consistency)
        styles = grid_styles or paths[1:]
        if not styles:
            raise CommandError("Name at least one style: stylize CONTENT STYLE... or stylize PATH... --style STYLE.")
        if grid_styles and mask:
            raise CommandError("--mask is painted on one photo or clip; leave out --style to use it.")
        if not mask and (region_styles or feather):
            raise CommandError("--region-styles and --feather apply to the regions of --mask; give a mask.")
        if len(styles) == 1 and trained_styles.style_name(styles[0]):
            method, styles = styles[0], [str(_painting_of(styles[0]))]
        if engine and method != magenta.MagentaMethod.name:
            raise CommandError(f"--engine chooses the {magenta.MagentaMethod.name} method's implementation; "
                               f"leave it out with --method {method}.")
        try:
            model = magenta.ENGINES[engine].engine_class()() if engine else engines.get(method)
            settings = Options(method=method, quality=quality, max_size=max_size, style_size=style_size,
                               style_pooling=style_pooling, strength=strength / 100,
                               preserve_colours=preserve_colours)
            job = _Job(model, settings, consistency, _Painted(mask, region_styles, feather, len(styles)) if mask else None)
            if grid_styles:
                return self._grid(job, paths, styles, output)
            inputs = [_style(name, model, settings.resolved()) for name in styles]
            self._one(job, Path(paths[0]), list(zip(inputs, _weights(weights, len(styles)))), output)
        except (StyleTransferError, ValueError) as error:
            raise CommandError(str(error)) from error

    def _one(self, job, content, styles, output):
        """One content in the blend of ``styles``, written to ``output``."""
        if video.looks_like_video(content):
            if output.suffix.lower() != ".mp4":
                raise CommandError(f"A clip is written as MP4: name the output .mp4, not {output.name}.")
            with tqdm(total=1.0, unit="clip", file=sys.stderr, bar_format="{l_bar}{bar}| {elapsed}<{remaining}") as bar:
                result = job.clip(content, styles, output, _FrameBar(bar))
            self.stdout.write(f"Wrote {output} ({result.width}x{result.height}, {result.frames} frames at "
                              f"{result.fps:g} fps, {result.seconds['total']:.1f} s).")
            return
        previews = job.method.capabilities.previews
        stylized = job.photo(content, styles, _report_to(self.stdout) if previews else None)
        _save(stylized.image, output)
        if previews:
            self.stdout.write("")
        width, height = stylized.image.size
        self.stdout.write(f"Wrote {output} ({width}x{height}, model {stylized.model_seconds:.2f} s).")

    def _grid(self, job, paths, style_names, folder):
        """Every content under ``paths`` in each style, into ``folder``; failures listed, then a CommandError."""
        contents, failures = _contents(paths)
        resolved = job.options.resolved()
        styles = [(_style_label(name), job.encoded(_style(name, job.method, resolved))) for name in style_names]
        folder.mkdir(parents=True, exist_ok=True)
        written = 0
        for (content, label), (style_label, style) in tqdm([(c, s) for c in contents for s in styles],
                                                          unit="result", file=sys.stderr):
            target = folder / f"{label}__{style_label}{'.mp4' if video.looks_like_video(content) else '.png'}"
            try:
                if target.suffix == ".mp4":
                    job.clip(content, [(style, 1.0)], target)
                else:
                    _save(job.photo(content, [(style, 1.0)]).image, target)
                written += 1
            except (StyleTransferError, ValueError, OSError, CommandError) as error:
                failures.append((content, str(error)))
        self.stdout.write(f"Wrote {written} results to {folder}.")
        if failures:
            for path, reason in failures:
                self.stderr.write(f"Skipped {path}: {reason}")
            raise CommandError(f"{len(failures)} of {written + len(failures)} could not be stylized (listed above).")


@dataclass
class _Job:
    """The method, options and consistency every content of a command is stylized with."""

    method: object
    options: Options
    consistency: float = None
    painted: object = None

    def photo(self, path, styles, progress=None):
        photo = open_image(path)
        return stylize(photo, styles, self.options, method=self.method, progress=progress,
                       regions=self.painted and self.painted.regions(photo.size))

    def clip(self, path, styles, output, progress=None):
        info = video.probe(path) if self.painted else None
        regions_of_clip = self.painted and self.painted.regions((info.width, info.height))
        with tempfile.TemporaryDirectory(prefix="stylize-clip-") as work_dir:
            return video.stylize_clip(path, output, styles, self.options, consistency=self.consistency,
                                      work_dir=work_dir, method=self.method, progress=progress,
                                      regions=regions_of_clip)

    def encoded(self, style):
        """A style image as the method takes it for every content: its style vector where it has them."""
        if isinstance(style, Image.Image) and self.method.capabilities.style_vectors:
            resolved = self.options.resolved()
            return pipeline.style_vector_of(style, resolved.style_size, resolved.style_pooling, self.method)
        return style


@dataclass
class _Painted:
    """``--mask``, ``--region-styles`` and ``--feather``, read against the content they are painted on."""

    mask: Path
    region_styles: str
    feather: int
    style_count: int

    def regions(self, size):
        """The Regions for a content of ``size`` (width, height). Raises RegionError, or CommandError unread."""
        try:
            data = self.mask.read_bytes()
        except OSError as error:
            raise CommandError(f"Could not read the mask {self.mask}: {error.strerror or error}") from error
        return regions.build(data, size, self.style_count, self.region_styles, self.feather)


def _contents(paths):
    """``([(path, output label)], [(path, reason)])``: the files to stylize, folders searched recursively."""
    contents, failures = [], []
    for argument in map(Path, paths):
        if argument.is_dir():
            found = sorted(path for path in argument.rglob("*")
                           if path.is_file() and path.suffix.lower() in CONTENT_EXTENSIONS)
            contents += [(path, "_".join(path.relative_to(argument).with_suffix("").parts)) for path in found]
        elif argument.is_file():
            contents.append((argument, argument.stem))
        else:
            failures.append((argument, "No such file or folder."))
    return contents, failures


def _style_label(name):
    preset = name[len(presets.PREFIX):] if name.startswith(presets.PREFIX) else None
    return preset.replace(" ", "_") if preset else Path(name).stem


def _save(image, output):
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        image.save(output)
    except (OSError, ValueError) as error:
        raise CommandError(f"Could not write {output}: {error}") from error


def _painting_of(method):
    """A trained style's painting (the style its transfers record). Raises CommandError when there is no such style."""
    try:
        return engines.method_class(method).painting
    except StyleTransferError as error:
        raise CommandError(str(error)) from error


def _check_numbers(max_size, style_size, strength, consistency):
    for size in (max_size, style_size):
        if size is not None and size < 1:
            raise CommandError("Sizes must be positive numbers of pixels.")
    if not 0 <= strength <= 100:
        raise CommandError("The strength must be between 0 and 100.")
    if consistency is not None and not 0 <= consistency <= 1:
        raise CommandError("The consistency must be between 0 and 1.")


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


class _FrameBar(Progress):
    """Moves a tqdm bar as a clip's frames are finished."""

    def __init__(self, bar):
        self._bar = bar

    def report(self, fraction, preview=None):
        self._bar.update(fraction - self._bar.n)


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
