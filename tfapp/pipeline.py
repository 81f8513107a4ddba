"""Stylize one Pillow image with one or several others: the interface views, tasks and commands call.

Nothing here knows about requests or the database; nothing outside the engines
touches tensors. Strength and style blending work on *style vectors*, the 100
numbers Magenta's style prediction network makes of a style image (Ghiasi et al.
2017); only engines with ``supports_style_vectors`` offer them.
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

STYLE_VECTOR_SHAPE = (1, 1, 1, 100)


@dataclass
class Options:
    """The parameters of one transfer; ``None`` means the site's setting.

    ``strength`` runs from 0 (the content's own style) to 1 (the style's), by
    Magenta's identity interpolation of style vectors. ``preserve_colours`` keeps
    the content's colours (see :func:`tfapp.colour.preserve_colours`);
    ``match_luminance`` applies only with it. ``tile_size`` is the longest side the
    network runs at in one piece (see :mod:`tfapp.tiling`).
    """

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
            style_pooling=conf.style_pooling() if self.style_pooling is None else self.style_pooling,
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


def stylize(content_image, styles, options=None, engine=None):
    """Repaint ``content_image`` (an RGB Pillow image) in the style of ``styles``.

    ``styles`` is one RGB Pillow image, or a list of ``(style, weight)`` pairs: each
    style a Pillow image or a style vector from :func:`style_vector_of` (computed
    at the same ``style_size`` and ``style_pooling``), each weight a number >= 0.
    Weights are divided by their sum; styles of weight 0 are left out, so
    ``[(a, 1), (b, 0)]`` gives exactly the result of ``a`` alone.

    The result keeps the content's aspect ratio, its long side limited to
    ``options.max_size``. Raises ValueError for malformed styles or options, and
    :class:`~tfapp.exceptions.UnsupportedByEngine` (a StyleTransferError)
    when the engine has no style vectors and more than one image at full strength is asked for.
    """
    options = (options or Options()).resolved()
    engine = engine or engines.get_engine()
    weighted_styles = normalised_styles(styles)
    check_supported(engine, weighted_styles, options)
    started = time.perf_counter()
    content = image2tensor(content_image, options.max_size)
    style_inputs = [(_model_input(style, options), weight) for style, weight in weighted_styles]
    content_as_style = None
    if options.strength < 1:
        content_as_style = style2tensor(content_image, options.style_size, options.style_pooling)
    prepared = time.perf_counter()
    image = tensor2image(_run_model(engine, content, style_inputs, content_as_style, options))
    finished = time.perf_counter()
    if options.preserve_colours:
        image = colour.preserve_colours(image, tensor2image(content), options.match_luminance)
    return Stylized(image, prepared - started, finished - prepared, options)


def style_vector_of(image, style_size=None, pooling=None, engine=None):
    """The style vector of a Pillow image seen at ``style_size`` (``float32`` ``[1, 1, 1, 100]``).

    ``None`` means the site's setting. Store it per style size and pooling: a
    preset passes it to :func:`stylize` instead of its image, saving the prediction.
    Raises :class:`UnsupportedByEngine` for engines without style vectors.
    """
    options = Options(style_size=style_size, style_pooling=pooling).resolved()
    engine = engine or engines.get_engine()
    if not engine.supports_style_vectors:
        raise UnsupportedByEngine(f"The {engine.label} engine does not expose style vectors.")
    return engine.style_vector(style2tensor(image, options.style_size, options.style_pooling))


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
    if isinstance(style, np.ndarray) and style.shape == STYLE_VECTOR_SHAPE:
        return style.astype(np.float32, copy=False)
    raise ValueError(f"A style must be a Pillow image or a style vector of shape {STYLE_VECTOR_SHAPE}.")


def _checked_weight(weight):
    if not isinstance(weight, numbers.Real) or not 0 <= weight < float("inf"):
        raise ValueError(f"A style's weight must be a number of at least zero, not {weight!r}.")
    return float(weight)


def check_supported(engine, weighted_styles, options):
    """Raise :class:`UnsupportedByEngine` when ``engine`` cannot apply these styles and options.

    Without style vectors an engine can only take one style image at full strength.
    """
    if engine.supports_style_vectors:
        return
    if len(weighted_styles) > 1:
        raise UnsupportedByEngine(f"The {engine.label} engine cannot blend several styles; choose one.")
    if options.strength < 1:
        raise UnsupportedByEngine(f"The {engine.label} engine cannot weaken a style; use full strength.")
    if not isinstance(weighted_styles[0][0], Image.Image):
        raise UnsupportedByEngine(f"The {engine.label} engine needs the style image, not a stored style vector.")


def _model_input(style, options):
    """What the engine takes for one style: a style tensor for an image, the vector itself otherwise."""
    if isinstance(style, Image.Image):
        return style2tensor(style, options.style_size, options.style_pooling)
    return style


def _run_model(engine, content, style_inputs, content_as_style, options):
    """The engine's output tensor for ``content`` given the prepared styles (see :func:`stylize`)."""
    if not engine.supports_style_vectors:
        return engine.stylize(content, style_inputs[0][0])
    style_vector = sum(weight * _vector(engine, style) for style, weight in style_inputs)
    if content_as_style is not None:
        # Magenta's identity interpolation: the content's own style vector pulls the
        # result back towards the photo as the strength falls.
        content_vector = engine.style_vector(content_as_style)
        style_vector = options.strength * style_vector + (1.0 - options.strength) * content_vector
    return engine.transfer(content, style_vector.astype(np.float32), options.tile_size)


def _vector(engine, style_input):
    """A stored vector as it is; a style tensor through the engine's style prediction."""
    return style_input if style_input.shape == STYLE_VECTOR_SHAPE else engine.style_vector(style_input)
