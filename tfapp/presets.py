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
from .models import style_vector_key


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
