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
