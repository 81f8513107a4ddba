"""Style vectors kept on the rows that hold a painting: presets, and the styles of transfers.

A method that takes precomputed style vectors (``capabilities.style_vectors``:
Magenta's 100 numbers, AdaIN's feature statistics) sees a painting through its
vector alone. Presets store theirs when loaded; an uploaded style stores its own
on first use, so a retry, "Edit & re-run" and "Try another method" (which copy it)
never encode the same painting again.
"""
import numpy as np

from . import pipeline
from .imaging import open_image
from .models import StylePreset, style_vector_key

#: How the command line names a preset: ``preset:NAME``.
PREFIX = "preset:"


def stored_vector(row, method, style_size, pooling):
    """The style vector of ``row``'s painting (a StylePreset or TransferStyle) for this method, computed once.

    Keyed by the method's engine, the style size and the smoothing, which all change it.
    """
    key = style_vector_key(method.engine, style_size, pooling)
    if key not in row.style_vectors:
        with row.image.open("rb") as stored:
            # Decoded exactly as a worker decodes an uploaded style, so both give the same vector.
            image = open_image(stored, needed_side=style_size)
        vector = pipeline.style_vector_of(image, style_size, pooling, method)
        row.style_vectors[key] = [float(number) for number in vector.ravel()]
        # Only this key is written, so concurrent workers caching other sizes do not lose each other's.
        rows = type(row).objects.filter(pk=row.pk)
        current = rows.values_list("style_vectors", flat=True).first() or {}
        rows.update(style_vectors={**current, key: row.style_vectors[key]})
    return np.asarray(row.style_vectors[key], np.float32).reshape(method.style_vector_shape)


def style_input(row, method, options):
    """What ``method`` takes for the painting of ``row`` (a StylePreset, or a transfer's style) with ``options``.

    Its stored style vector where the method takes vectors (a transfer's style uses
    its preset's, if it came from one), else the image, decoded for ``options.style_size``.
    The worker and the command line both call this.
    """
    if method.capabilities.style_vectors:
        return stored_vector(getattr(row, "preset", None) or row, method, options.style_size, options.style_pooling)
    with row.image.open("rb") as stored:
        return open_image(stored, needed_side=options.style_size)


def named(argument):
    """The preset an argument ``preset:NAME`` names (any case), or ``None`` for an argument without the prefix.

    Raises LookupError, naming the presets there are, when none has that name.
    """
    if not argument.startswith(PREFIX):
        return None
    name = argument[len(PREFIX):]
    preset = StylePreset.objects.filter(name__iexact=name).first()
    if preset is None:
        known = ", ".join(StylePreset.objects.values_list("name", flat=True)) or "none; see load_presets"
        raise LookupError(f"No preset called {name!r}. Presets: {known}.")
    return preset
