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

from . import colour, conf, engines, tiling
from .exceptions import UnsupportedByEngine
from .imaging import image2tensor, style2tensor, tensor2image

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


def stylize(content_image, styles, options=None, method=None, progress=None):
    """Repaint ``content_image`` (an RGB Pillow image) in the style of ``styles``.

    ``styles`` is one RGB Pillow image, or a list of ``(style, weight)`` pairs: each
    style a Pillow image or a style vector from :func:`style_vector_of` (computed
    at the same ``style_size`` and ``style_pooling``), each weight a number >= 0.
    Weights are divided by their sum; styles of weight 0 are left out, so
    ``[(a, 1), (b, 0)]`` gives exactly the result of ``a`` alone.

    The result keeps the content's aspect ratio, its long side limited to
    ``options.max_size``. ``method`` is a loaded method (default: ``options.method``'s);
    ``progress`` a :class:`tfapp.methods.base.Progress` for long methods. Raises
    ValueError for malformed styles or options, and
    :class:`~tfapp.exceptions.UnsupportedByEngine` (a StyleTransferError) when the
    method cannot honour a control asked for (see :func:`check_supported`).
    """
    options = (options or Options()).resolved()
    method = method or engines.get(options.method)
    weighted_styles = normalised_styles(styles)
    check_supported(method, weighted_styles, options)
    started = time.perf_counter()
    content = image2tensor(content_image, options.max_size)
    style_inputs = [(_model_input(style, options), weight) for style, weight in weighted_styles]
    content_style = None
    if options.strength < 1:
        content_style = style2tensor(content_image, options.style_size, options.style_pooling)
    prepared = time.perf_counter()
    output = method.stylize(content, style_inputs, strength=options.strength, quality=options.quality,
                            tile_size=options.tile_size, progress=progress, content_style=content_style)
    image = tensor2image(output)
    finished = time.perf_counter()
    if options.preserve_colours:
        image = colour.preserve_colours(image, tensor2image(content), options.match_luminance)
    return Stylized(image, prepared - started, finished - prepared, options)


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


def check_supported(method, weighted_styles, options):
    """Raise :class:`UnsupportedByEngine` when ``method`` cannot apply these styles and options."""
    check_controls(method, len(weighted_styles), options)
    vectors = [style for style, _ in weighted_styles if not isinstance(style, Image.Image)]
    if vectors and not method.capabilities.style_vectors:
        raise UnsupportedByEngine(f"{method.label} needs the style image, not a stored style vector.",
                                  "style_vectors")
    if any(vector.shape != method.style_vector_shape for vector in vectors):
        raise ValueError(f"{method.label} takes style vectors of shape {method.style_vector_shape}.")


def check_controls(method, style_count, options):
    """Raise :class:`UnsupportedByEngine` when ``method`` (a class or instance) cannot honour a control.

    ``style_count`` is the number of styles with a weight above zero. The message is
    the method's own reason where it declares one.
    """
    capabilities, reasons = method.capabilities, method.reasons
    refused = {
        "blending": (style_count > 1 and not capabilities.blending, "cannot blend several styles; choose one."),
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
