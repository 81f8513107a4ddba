"""Stylize one Pillow image with one or several others: the interface views, tasks and commands call.

Nothing here knows about requests or the database; nothing outside the engines
touches tensors. Which controls apply is read from the chosen method's
declarations (:class:`tfapp.methods.base.Capabilities`), never from its name.
"""
import dataclasses
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from . import colour, conf, engines, regions as regions_module, tiling
from .exceptions import UnsupportedByEngine
from .imaging import image2tensor, style2tensor, tensor2image
from .methods.base import NATIVE, Progress

@dataclass
class Options:
    """The parameters of one transfer; ``None`` means the site's setting.

    ``strength`` runs from 0 (the content's own style) to 1 (the style's), by
    Magenta's identity interpolation of style vectors. ``preserve_colours`` keeps
    the content's colours (see :func:`tfapp.colour.preserve_colours`);
    ``match_luminance`` applies only with it. ``tile_size`` is the longest side the
    network runs at in one piece (see :mod:`tfapp.tiling`). ``method`` names a
    method of :mod:`tfapp.engines`; ``quality`` is one of its qualities (``None``: its default).
    """

    method: str = engines.DEFAULT_METHOD
    quality: str = None
    max_size: int = None
    style_size: int = None
    style_pooling: bool = None
    strength: float = 1.0
    preserve_colours: bool = False
    match_luminance: bool = True
    tile_size: int = None

    def resolved(self):
        """A copy with every ``None`` replaced by the site's setting. Raises ValueError."""
        if not 0.0 <= self.strength <= 1.0:
            raise ValueError(f"The strength must be between 0 and 1, not {self.strength}.")
        return dataclasses.replace(
            self,
            max_size=self.max_size or conf.max_content_size(),
            style_size=self.style_size or conf.style_size(),
            # Smoothing the style is Magenta's practice (the TF-Hub tutorial's); the other methods
            # match the painting's own textures, which smoothing would blur.
            style_pooling=(conf.style_pooling() if self.style_pooling is None else self.style_pooling)
            and engines.method_class(self.method).smooths_style,
            tile_size=self.tile_size or tiling.DEFAULT_TILE_SIZE,
        )


@dataclass
class Stylized:
    """A result and how long it took.

    ``preprocess_seconds`` covers resizing the inputs; ``model_seconds`` the style
    predictions and the transfer network; colour preservation is in neither.
    """

    image: object
    preprocess_seconds: float
    model_seconds: float
    options: Options = field(default_factory=Options)


def stylize(content_image, styles, options=None, method=None, progress=None, regions=None):
    """Repaint ``content_image`` (an RGB Pillow image) in the style of ``styles``.

    ``styles`` is one RGB Pillow image, or a list of ``(style, weight)`` pairs: each
    style a Pillow image or a style vector from :func:`style_vector_of` (computed
    at the same ``style_size`` and ``style_pooling``), each weight a number >= 0.
    Weights are divided by their sum; styles of weight 0 are left out, so
    ``[(a, 1), (b, 0)]`` gives exactly the result of ``a`` alone.

    The result keeps the content's aspect ratio, its long side limited to
    ``options.max_size``. ``method`` is a loaded method (default: ``options.method``'s);
    ``progress`` a :class:`tfapp.methods.base.Progress` for long methods.

    ``regions`` (a :class:`tfapp.regions.Regions` painted on ``content_image``) paints
    each region in its own style alone: region k takes ``styles[regions.styles[k]]``,
    or keeps the photo for ``None``. Blending weights mean nothing then: they are
    ignored (each must still be a number >= 0) and no style is left out, so the
    positions regions point at stay those of ``styles``. A method whose
    :attr:`~tfapp.methods.base.Method.regions_by` is ``"native"`` honours them in its
    own way; for the others each style a region uses runs once over the whole photo
    and the passes are blended by the feathered shares (:meth:`Regions.weights`).
    Either way a kept region is the photo, put back by those shares at the very
    end, after the colours are kept, so it stays the photo with them too.

    Raises ValueError for malformed styles, options or regions, and
    :class:`~tfapp.exceptions.UnsupportedByEngine` (a StyleTransferError) when the
    method cannot honour a control asked for (see :func:`check_supported`).
    """
    options = (options or Options()).resolved()
    method = method or engines.get(options.method)
    if regions is not None:
        _check_fits(regions, content_image.size)
    weighted_styles = normalised_styles(styles) if regions is None else region_styles(styles, regions)
    check_supported(method, weighted_styles, options, regions)
    started = time.perf_counter()
    content = image2tensor(content_image, options.max_size)
    style_inputs = [(_model_input(style, options), weight) for style, weight in weighted_styles]
    content_style = None
    if options.strength < 1:
        content_style = style2tensor(content_image, options.style_size, options.style_pooling)
    prepared = time.perf_counter()
    run = dict(strength=options.strength, quality=options.quality, tile_size=options.tile_size,
               content_style=content_style)
    if regions is None:
        output = method.stylize(content, style_inputs, progress=progress, **run)
    elif method.regions_by == NATIVE:
        output = method.stylize(content, style_inputs, progress=_kept_in_previews(progress, content, regions),
                                regions=regions, **run)
    else:
        output = _composited(method, content, style_inputs, regions, progress, run)
    image = tensor2image(output)
    finished = time.perf_counter()
    if options.preserve_colours:
        image = colour.preserve_colours(image, tensor2image(content), options.match_luminance)
    if regions is not None:
        image = _photo_kept(image, tensor2image(content), regions)
    return Stylized(image, prepared - started, finished - prepared, options)


def _composited(method, content, style_inputs, regions, progress, run):
    """Each region's style run once over the whole content, the passes blended by the regions' shares.

    Kept regions get nothing here (:func:`_photo_kept` puts the photo there); a style
    no region uses, or only a region with no pixel, is not run.
    """
    shares = regions.weights((content.shape[2], content.shape[1]))
    by_style = {}
    for region, style in enumerate(regions.styles):
        if style is not None and shares[region].any():
            by_style[style] = by_style.get(style, 0.0) + shares[region]
    output = np.zeros(content.shape, np.float32)
    for done, (style, share) in enumerate(sorted(by_style.items(), key=lambda item: item[0])):
        passed = method.stylize(content, [(style_inputs[style][0], 1.0)],
                                progress=_Part(progress, done, len(by_style)), **run)
        output += passed * share[None, :, :, None]
    return output


def _photo_kept(image, photo, regions):
    """``image`` with the photo put back in kept regions, by their feathered shares (exact where a share is 1)."""
    if None not in regions.styles:
        return image
    share = _kept_share(regions, image.size)[:, :, None]
    blended = np.asarray(image, np.float32) * (1.0 - share) + np.asarray(photo, np.float32) * share
    return Image.fromarray(np.clip(np.round(blended), 0, 255).astype(np.uint8), "RGB")


def _kept_share(regions, size):
    """The kept regions' share of each pixel at ``size`` (width, height): ``float32`` ``[H, W]``."""
    kept = [region for region, style in enumerate(regions.styles) if style is None]
    return regions.weights(size)[kept].sum(axis=0)


def _kept_in_previews(progress, content, regions):
    """``progress``, showing the photo in kept regions of its previews as the result will (if any are kept)."""
    if progress is None or None not in regions.styles:
        return progress
    return _KeptInPreviews(progress, content, regions)


class _KeptInPreviews(Progress):
    """Passes reports on to ``progress``, with the photo put back in the kept regions of each preview."""

    def __init__(self, progress, content, regions):
        self._progress, self._content, self._regions = progress, content, regions

    def report(self, fraction, preview=None):
        if preview is None:
            self._progress.report(fraction)
            return

        def kept():
            image = preview()
            share = _kept_share(self._regions, (image.shape[2], image.shape[1]))[None, :, :, None]
            return image * (1.0 - share) + self._content * share
        self._progress.report(fraction, kept)


class _Part(Progress):
    """Progress of one of ``count`` passes, reported as its share of the whole."""

    def __init__(self, progress, index, count):
        self._progress, self._index, self._count = progress, index, count

    def report(self, fraction, preview=None):
        if self._progress is not None:
            self._progress.report((self._index + fraction) / self._count)


def style_vector_of(image, style_size=None, pooling=None, method=None):
    """The style vector of a Pillow image seen at ``style_size`` (``float32`` ``method.style_vector_shape``).

    ``None`` means the site's setting. Store it per style size and pooling: a
    preset passes it to :func:`stylize` instead of its image, saving the prediction.
    Raises :class:`UnsupportedByEngine` for methods without style vectors.
    """
    options = Options(style_size=style_size, style_pooling=pooling).resolved()
    method = method or engines.get(engines.DEFAULT_METHOD)
    if not method.capabilities.style_vectors:
        raise UnsupportedByEngine(f"{method.label} ({method.engine}) does not expose style vectors.")
    return method.style_vector(style2tensor(image, options.style_size, options.style_pooling))


def normalised_styles(styles):
    """``styles`` as for :func:`stylize`, as a list of ``(style, weight)`` with weights > 0 summing to 1."""
    if isinstance(styles, Image.Image):
        return [(styles, 1.0)]
    pairs = [(_checked_style(style), _checked_weight(weight)) for style, weight in styles]
    total = sum(weight for _, weight in pairs)
    if total <= 0:
        raise ValueError("At least one style needs a weight above zero.")
    return [(style, weight / total) for style, weight in pairs if weight > 0]


def region_styles(styles, regions):
    """``styles`` as for :func:`stylize` with ``regions``: every style, in order, each of weight 1.

    Raises ValueError when a region points at a style that is not given.
    """
    pairs = [(styles, 1.0)] if isinstance(styles, Image.Image) else \
        [(_checked_style(style), _checked_weight(weight)) for style, weight in styles]
    missing = [style for style in regions.styles if style is not None and not 0 <= style < len(pairs)]
    if missing:
        raise ValueError(f"A region points at style {missing[0] + 1}, but {len(pairs)} "
                         f"style{'s were' if len(pairs) != 1 else ' was'} given.")
    return [(style, 1.0) for style, _ in pairs]


def _check_fits(regions, size):
    """Raise ValueError when the regions were painted on a photo of another aspect ratio than ``size``."""
    height, width = regions.mask.shape
    if abs(width / height - size[0] / size[1]) > regions_module.ASPECT_TOLERANCE * size[0] / size[1]:
        raise ValueError(f"The regions were painted on a {width}x{height} photo, not this {size[0]}x{size[1]} one.")


def _checked_style(style):
    if isinstance(style, Image.Image):
        return style
    if isinstance(style, np.ndarray) and style.ndim == 4 and style.shape[:3] == (1, 1, 1):
        return style.astype(np.float32, copy=False)
    raise ValueError("A style must be a Pillow image or a style vector of shape [1, 1, 1, N].")


def _checked_weight(weight):
    if not isinstance(weight, numbers.Real) or not 0 <= weight < float("inf"):
        raise ValueError(f"A style's weight must be a number of at least zero, not {weight!r}.")
    return float(weight)


def check_supported(method, weighted_styles, options, regions=None):
    """Raise :class:`UnsupportedByEngine` when ``method`` cannot apply these styles, options and regions."""
    check_controls(method, len(weighted_styles), options, regions is not None)
    vectors = [style for style, _ in weighted_styles if not isinstance(style, Image.Image)]
    if vectors and not method.capabilities.style_vectors:
        raise UnsupportedByEngine(f"{method.label} needs the style image, not a stored style vector.",
                                  "style_vectors")
    if any(vector.shape != method.style_vector_shape for vector in vectors):
        raise ValueError(f"{method.label} takes style vectors of shape {method.style_vector_shape}.")


def check_controls(method, style_count, options, regions=False):
    """Raise :class:`UnsupportedByEngine` when ``method`` (a class or instance) cannot honour a control.

    ``style_count`` is the number of styles with a weight above zero; ``regions``
    whether regions are painted (then several styles are not blended: each region
    takes one). The message is the method's own reason where it declares one.
    """
    capabilities, reasons = method.capabilities, method.reasons
    refused = {
        "regions": (regions and not capabilities.regions, "cannot paint regions in different styles."),
        "blending": (style_count > 1 and not regions and not capabilities.blending,
                     "cannot blend several styles; choose one."),
        "strength": (options.strength < 1 and not capabilities.strength, "cannot weaken a style; use 100 %."),
        "preserve_colours": (options.preserve_colours and not capabilities.preserve_colours,
                             "cannot keep the photo's colours."),
        "quality": (options.quality is not None and options.quality not in capabilities.qualities,
                    f"has no quality {options.quality!r}."),
    }
    for control, (is_refused, sentence) in refused.items():
        if is_refused:
            raise UnsupportedByEngine(reasons.get(control, f"{method.label} {sentence}"), control)


def check_video(method):
    """Raise :class:`UnsupportedByEngine` (control ``video``) when ``method`` cannot stylize a clip frame by frame."""
    if not method.capabilities.video:
        raise UnsupportedByEngine(method.reasons.get("video", f"{method.label} cannot stylize clips."), "video")


def _model_input(style, options):
    """What the method takes for one style: a style tensor for an image, the vector itself otherwise."""
    if isinstance(style, Image.Image):
        return style2tensor(style, options.style_size, options.style_pooling)
    return style
