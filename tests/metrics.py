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


def luminance(image):
    """The BT.601 luma of an RGB image ``[H, W, 3]`` (8-bit integers, or floats in [0, 1]), in [0, 1]."""
    pixels = np.asarray(image)
    scale = 255.0 if np.issubdtype(pixels.dtype, np.integer) else 1.0
    return pixels.astype(np.float64) @ np.array([0.299, 0.587, 0.114]) / scale


def gaussian_blur(plane, sigma):
    """A 2-D plane blurred by a Gaussian of ``sigma`` pixels (separable, edges reflected)."""
    radius = max(1, round(3 * sigma))
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-offsets ** 2 / (2 * sigma ** 2))
    kernel /= kernel.sum()
    for axis in (0, 1):
        padding = [(0, 0), (0, 0)]
        padding[axis] = (radius, radius)
        padded = np.pad(plane, padding, mode="reflect")
        length = plane.shape[axis]
        plane = sum(weight * np.take(padded, np.arange(shift, shift + length), axis=axis)
                    for shift, weight in enumerate(kernel))
    return plane


def sobel_magnitude(plane):
    """The Sobel gradient magnitude of a 2-D plane (edges replicated)."""
    padded = np.pad(plane, 1, mode="edge")

    def window(row, column):
        return padded[row:row + plane.shape[0], column:column + plane.shape[1]]

    horizontal = (window(0, 2) + 2 * window(1, 2) + window(2, 2)) - (window(0, 0) + 2 * window(1, 0) + window(2, 0))
    vertical = (window(2, 0) + 2 * window(2, 1) + window(2, 2)) - (window(0, 0) + 2 * window(0, 1) + window(0, 2))
    return np.hypot(horizontal, vertical)


def edge_correlation(photo, result, sigma=2.0):
    """How much of the photo's structure survives in ``result``, without VGG: 1 is the same structure.

    The Pearson correlation between the Sobel edge magnitudes of the two images'
    luminance, each blurred by a Gaussian of ``sigma`` px so that strokes a pixel or
    two off an edge still count as keeping it. Same-size RGB images.
    """
    edges = [gaussian_blur(sobel_magnitude(luminance(image)), sigma).ravel() for image in (photo, result)]
    return float(np.corrcoef(*edges)[0, 1])


def luminance_ssim(photo, result):
    """The mean structural similarity (Wang et al. 2004) of two same-size images' luminance.

    The usual constants: a Gaussian window of sigma 1.5 px, ``C1 = (0.01 L)^2`` and
    ``C2 = (0.03 L)^2`` for the range ``L = 1``. 1 for identical images.
    """
    first, second = luminance(photo), luminance(result)
    def blur(plane):
        return gaussian_blur(plane, 1.5)

    mean_1, mean_2 = blur(first), blur(second)
    variance_1 = blur(first * first) - mean_1 ** 2
    variance_2 = blur(second * second) - mean_2 ** 2
    covariance = blur(first * second) - mean_1 * mean_2
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    ssim = ((2 * mean_1 * mean_2 + c1) * (2 * covariance + c2)
            / ((mean_1 ** 2 + mean_2 ** 2 + c1) * (variance_1 + variance_2 + c2)))
    return float(ssim.mean())


def warping_error(inputs, outputs):
    """Lai et al. (2018)'s warping error of a stylized clip: how much consecutive outputs disagree along the motion.

    For each pair of frames, E = sum(M * |O_t - W(O_t+1)|^2) / sum(M): ``W`` warps the next
    output back along the optical flow of the *input* frames, ``M`` marks the pixels that
    flow follows (the forward-backward and colour checks of :mod:`tfapp.consistency`),
    RGB in [0, 1]. Returns the mean over pairs. The flow is DIS's finer "medium" preset,
    not the "fast" one the product smooths with, so the measure is not the method's own.
    """
    import cv2

    from tfapp.consistency import Flow, followed, warp

    flow = Flow(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    errors = []
    for index in range(len(inputs) - 1):
        current, following = inputs[index], inputs[index + 1]
        to_next = flow.between(following, current)
        mask = followed(to_next, flow.between(current, following), following, current)
        carried = warp(outputs[index + 1], to_next).astype(np.float64) / 255
        difference = np.sum((outputs[index].astype(np.float64) / 255 - carried) ** 2, axis=-1)
        errors.append(float((difference * mask).sum() / max(mask.sum(), 1)))
    return float(np.mean(errors))
