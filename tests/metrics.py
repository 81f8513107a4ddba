"""Measurements of images that tests and benchmarks compare."""
import numpy as np


def _sqrtm_psd(matrix):
    values, vectors = np.linalg.eigh(matrix)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


def colour_distance(first, second):
    """Fréchet (2-Wasserstein) distance between Gaussian fits of two images' RGB pixel clouds.

    A painting's palette is its colours' mean and how they co-vary; this is the
    distance FID uses, applied to pixels in [0, 1] instead of network features.
    """
    a = np.asarray(first, np.float64).reshape(-1, 3) / 255.0
    b = np.asarray(second, np.float64).reshape(-1, 3) / 255.0
    mean_a, mean_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root_a = _sqrtm_psd(cov_a)
    cross = _sqrtm_psd(root_a @ cov_b @ root_a)
    return float(np.sum((mean_a - mean_b) ** 2) + np.trace(cov_a + cov_b - 2 * cross))


def seam_ratio(image, rows, columns):
    """How much more the image changes across the given tile borders than between any neighbours.

    A border at ``x`` in ``columns`` lies between pixel columns ``x - 1`` and ``x``
    (likewise for ``rows``). Returns the mean absolute RGB difference across all
    given borders divided by the mean absolute difference between all horizontally
    and vertically neighbouring pixels: about 1 when the borders look like any other
    line of the picture, well above 1 when a seam shows.
    """
    pixels = np.asarray(image, np.float32)
    across_columns = np.abs(np.diff(pixels, axis=1))
    across_rows = np.abs(np.diff(pixels, axis=0))
    border_steps = [across_columns[:, x - 1] for x in columns] + [across_rows[y - 1] for y in rows]
    overall = (across_columns.sum() + across_rows.sum()) / (across_columns.size + across_rows.size)
    return float(np.mean([step.mean() for step in border_steps]) / overall)


def chroma(image):
    """The Cb and Cr planes (ITU-R BT.601, ``[H, W, 2]``, 0-centred, in 8-bit units) of an RGB image."""
    pixels = np.asarray(image, np.float64)
    luma = pixels @ np.array([0.299, 0.587, 0.114])
    return np.stack([0.564 * (pixels[..., 2] - luma), 0.713 * (pixels[..., 0] - luma)], axis=-1)


def mean_frequency(image):
    """Power-weighted mean spatial frequency of an image's luminance, in cycles per pixel.

    The mean is removed first; fine texture (small brush strokes) gives a higher
    value, coarse texture a lower one. Ranges over [0, 0.71]: 0.5 cycles per pixel
    along each axis at most.
    """
    luma = np.asarray(image, np.float64) @ np.array([0.299, 0.587, 0.114])
    power = np.abs(np.fft.fft2(luma - luma.mean())) ** 2
    frequency = np.hypot(np.fft.fftfreq(luma.shape[0])[:, None], np.fft.fftfreq(luma.shape[1])[None, :])
    return float((power * frequency).sum() / power.sum())


def mean_absolute_difference(first, second):
    """Mean absolute difference between two same-size RGB images, in 8-bit levels (0 to 255)."""
    return float(np.abs(np.asarray(first, np.float64) - np.asarray(second, np.float64)).mean())
