"""3x3 convolutions by Winograd's minimal filtering, F(4x4, 3x3) (Lavin & Gray 2016).

A direct 3x3 convolution takes 9 multiply-adds per output position, input channel
and output channel. Winograd's F(4x4, 3x3) makes each 4x4 block of outputs from a
6x6 block of input: it transforms the input block and the kernel (the kernel once,
at load), multiplies them element by element, which over channels is 36 matrix
products with 4x fewer multiply-adds in all, and transforms the products back. The
transforms are small matrix products over strided slices, so the graph is plain
TensorFlow ops that OpenVINO's converter takes like any others.

On a 2-core AVX-512 host the direct convolutions of AdaIN's VGG-19 encoder and
decoder already run at the speed of a float32 matrix product there (about 200 GFLOP/s),
so only doing less arithmetic makes them faster. Measured on OpenVINO in float32, one
layer at a time on an idle AMD EPYC host: 256 -> 256 channels at 128x128 0.092 ->
0.045 s, 512 -> 256 at 64x64 0.045 -> 0.019 s, 128 -> 256 at 128x128 0.048 -> 0.027 s;
in the whole encoder and decoder at 512x512 (``bench/adain.py``), see :func:`worth_it`.

The results differ from a direct convolution's by rounding only: at most about 1e-5
of the output's range in float32 (the transforms' coefficients reach 8). In bfloat16
that rounding would be some hundred times larger, so bfloat16 keeps direct convolutions.
"""
import numpy as np
import tensorflow as tf

#: Output positions per tile side, and the input positions a tile reads.
TILE = 4
SPAN = TILE + 2

#: F(4x4, 3x3)'s input transform B^T, kernel transform G and output transform A^T.
INPUT_TRANSFORM = np.array([
    [4, 0, -5, 0, 1, 0],
    [0, -4, -4, 1, 1, 0],
    [0, 4, -4, -1, 1, 0],
    [0, -2, -1, 2, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 4, 0, -5, 0, 1],
], np.float64)
KERNEL_TRANSFORM = np.array([
    [1 / 4, 0, 0],
    [-1 / 6, -1 / 6, -1 / 6],
    [-1 / 6, 1 / 6, -1 / 6],
    [1 / 24, 1 / 12, 1 / 6],
    [1 / 24, -1 / 12, 1 / 6],
    [0, 0, 1],
], np.float64)
OUTPUT_TRANSFORM = np.array([
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -2, 0],
    [0, 1, 1, 4, 4, 0],
    [0, 1, -1, 8, -8, 1],
], np.float64)

#: Least ``C * K / (C + K)`` of a convolution from C to K channels for :func:`worth_it`.
MIN_CHANNEL_BALANCE = 80


def worth_it(kernel):
    """Whether a ``[3, 3, C, K]`` kernel's convolution is faster by :func:`convolve` than directly.

    Winograd saves arithmetic in proportion to ``C * K`` per position, and its
    transforms move memory in proportion to ``C + K``. In AdaIN's encoder and decoder
    at 512x512 (0.59 and 0.61 s direct) this rule took 0.40 and 0.44 s; also taking the
    128 -> 128 convolutions (a balance of 64) took 0.41 and 0.47 s, and leaving out
    the 128 <-> 256 ones (85) 0.44 and 0.47 s.
    """
    channels, outputs = kernel.shape[2:]
    return kernel.shape[:2] == (3, 3) and channels * outputs / (channels + outputs) >= MIN_CHANNEL_BALANCE


def transformed(kernel):
    """The kernel ``[3, 3, C, K]`` as :func:`convolve` takes it: ``G g G^T``, ``[36, C, K]`` float32.

    Ordered by the column of the 6x6 transformed tile, then its row, as :func:`convolve`
    makes them. Computed in float64, so the only rounding is the final one to float32.
    """
    kernel = np.asarray(kernel, np.float64)
    blocks = np.einsum("ai,ijck,bj->back", KERNEL_TRANSFORM, kernel, KERNEL_TRANSFORM)
    return blocks.reshape(SPAN * SPAN, *kernel.shape[2:]).astype(np.float32)


def convolve(padded, kernel):
    """``tf.nn.conv2d(padded, g, 1, "VALID")`` for a 3x3 kernel ``g``, given as ``transformed(g)``.

    ``padded`` is ``float32`` ``[N, H + 2, W + 2, C]`` (already padded by one on every
    side), any ``H`` and ``W``: the tiles' grid is filled out with zeros to whole
    tiles and the output cropped back to ``[N, H, W, K]``.

    Each transform is one matrix product over a stack of six strided slices, and the
    36 products one batched matrix product, so the graph has a few dozen nodes per
    convolution: OpenVINO compiles a graph for each input size, and one with a node
    per slice and per product (about a thousand for each convolution) took 4 s more
    per size for AdaIN and twice the memory.
    """
    batch, height, width = tf.shape(padded)[0], tf.shape(padded)[1] - 2, tf.shape(padded)[2] - 2
    rows, columns = -(-height // TILE) * TILE, -(-width // TILE) * TILE
    padded = tf.pad(padded, [[0, 0], [0, rows - height], [0, columns - width], [0, 0]])
    channels, outputs = kernel.shape[1], kernel.shape[2]
    input_transform = tf.constant(INPUT_TRANSFORM, tf.float32)
    output_transform = tf.constant(OUTPUT_TRANSFORM, tf.float32)
    # B^T d B for every tile at once: down the rows of each tile, then along its columns.
    tile_rows = tf.stack([padded[:, offset:offset + rows:TILE] for offset in range(SPAN)])
    tile_rows = tf.reshape(tf.matmul(input_transform, tf.reshape(tile_rows, [SPAN, -1])), tf.shape(tile_rows))
    tiles = tf.stack([tile_rows[:, :, :, offset:offset + columns:TILE] for offset in range(SPAN)])
    tiles = tf.matmul(input_transform, tf.reshape(tiles, [SPAN, -1]))
    # The element-wise products, summed over the input channels: 36 matrix products at once.
    products = tf.matmul(tf.reshape(tiles, [SPAN * SPAN, -1, channels]), kernel)
    # A^T m A: down the rows, then along the columns; then each tile's 4x4 outputs into place.
    products = tf.matmul(output_transform, tf.reshape(products, [SPAN, SPAN, -1]))
    products = tf.matmul(output_transform, tf.reshape(products, [SPAN, -1]))
    products = tf.reshape(products, [TILE, TILE, batch, rows // TILE, columns // TILE, outputs])
    image = tf.reshape(tf.transpose(products, [2, 3, 1, 4, 0, 5]), [batch, rows, columns, outputs])
    return image[:, :height, :width]
