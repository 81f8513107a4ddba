"""Stylize one Pillow image with another: the interface views, tasks and commands call.

Nothing here knows about requests or the database; nothing outside the engines
touches tensors.
"""
import time
from dataclasses import dataclass, field

from . import conf, engines
from .imaging import image2tensor, style2tensor, tensor2image


@dataclass
class Options:
    """The parameters of one transfer; ``None`` means the site's setting."""

    max_size: int = None
    style_size: int = None
    style_pooling: bool = None

    def resolved(self):
        return Options(
            max_size=self.max_size or conf.max_content_size(),
            style_size=self.style_size or conf.style_size(),
            style_pooling=conf.style_pooling() if self.style_pooling is None else self.style_pooling,
        )


@dataclass
class Stylized:
    image: object
    preprocess_seconds: float
    model_seconds: float
    options: Options = field(default_factory=Options)


def stylize(content_image, style_image, options=None, engine=None):
    """Repaint ``content_image`` in the style of ``style_image`` (both RGB Pillow images).

    The result keeps the content's aspect ratio, its long side limited to
    ``options.max_size``. Raises :class:`~tfapp.exceptions.StyleTransferError`.
    """
    options = (options or Options()).resolved()
    engine = engine or engines.get_engine()
    started = time.perf_counter()
    content = image2tensor(content_image, options.max_size)
    style = style2tensor(style_image, options.style_size, options.style_pooling)
    prepared = time.perf_counter()
    output = engine.stylize(content, style)
    finished = time.perf_counter()
    return Stylized(tensor2image(output), prepared - started, finished - prepared, options)
