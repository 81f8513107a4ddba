"""Keep the photo's colours in a stylized image: luminance-only style transfer.

Gatys et al. (2017), "Controlling Perceptual Factors in Neural Style Transfer",
section 5.1: keep the stylized image's luminance, which carries the brush strokes,
and take the colour (chroma) from the content image, optionally after matching
the stylized luminance's mean and spread to the content's.
"""
import numpy as np
from PIL import Image

# ITU-R BT.601 luma: the Y of both YIQ (the space Gatys et al. used) and YCbCr.
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], np.float32)


def luminance(pixels):
    """BT.601 luma of an ``[..., 3]`` RGB array, as ``float32`` on the same scale."""
    return np.asarray(pixels, np.float32) @ LUMA_WEIGHTS


def matched(values, reference):
    """``values`` shifted and scaled to the mean and standard deviation of ``reference``.

    When ``values`` is constant it is only shifted, since there is no spread to scale.
    """
    spread = values.std()
    scale = reference.std() / spread if spread > 0 else 1.0
    return (values - values.mean()) * scale + reference.mean()


def preserve_colours(stylized, content, match_luminance=True):
    """``stylized`` with the colours of ``content``: an RGB Pillow image of their size.

    Both arguments are RGB Pillow images of the same size. The result has the
    stylized image's luminance (BT.601 luma) and the content's chroma. YIQ and
    YCbCr share that luma, and both pairs of chroma axes are linear functions of
    (R - Y, B - Y), so keeping the content's I and Q is keeping its Cb and Cr: the
    choice of space does not change the result. In either, the inverse transform
    adds Y to each of R, G and B with weight 1, so swapping the luminance is adding
    the luminance difference to every channel of the content; channels pushed
    outside 0..255 are clipped, the one place the chroma can drift.

    With ``match_luminance`` (Gatys et al.'s luminance matching), the stylized
    luminance is first given the content's mean and standard deviation, so the
    result keeps the photo's brightness and contrast; without it, the painting's.
    """
    if stylized.size != content.size:
        raise ValueError(f"The images differ in size: {stylized.size} and {content.size}.")
    content_pixels = np.asarray(content, np.float32)
    content_luminance = luminance(content_pixels)
    stylized_luminance = luminance(np.asarray(stylized))
    if match_luminance:
        stylized_luminance = matched(stylized_luminance, content_luminance)
    content_pixels += (stylized_luminance - content_luminance)[..., np.newaxis]
    return Image.fromarray(np.clip(np.round(content_pixels, out=content_pixels), 0, 255).astype(np.uint8), "RGB")
