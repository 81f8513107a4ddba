"""Preset styles: painting images whose style vectors are computed once and kept on the row."""
import numpy as np

from . import pipeline
from .imaging import open_image
from .models import StylePreset


def preset_vector(preset, method, style_size, pooling):
    """The preset's style vector for this method's engine and style size, computed on first use only."""
    key = StylePreset.vector_key(method.engine, style_size, pooling)
    if key not in preset.style_vectors:
        with preset.image.open("rb") as stored:
            # Decoded exactly as a worker decodes an uploaded style, so both give the same vector.
            image = open_image(stored, needed_side=style_size)
        vector = pipeline.style_vector_of(image, style_size, pooling, method)
        preset.style_vectors[key] = [float(number) for number in vector.ravel()]
        # Only this key is written, so concurrent workers caching other sizes do not lose each other's.
        current = StylePreset.objects.get(pk=preset.pk).style_vectors
        StylePreset.objects.filter(pk=preset.pk).update(style_vectors={**current, key: preset.style_vectors[key]})
    return np.asarray(preset.style_vectors[key], np.float32).reshape(pipeline.STYLE_VECTOR_SHAPE)
