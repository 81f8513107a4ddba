"""The image pipeline: decoding, mode conversion, resizing and tensor conversion."""
import io

import numpy as np
import pytest
from PIL import Image

from tfapp.exceptions import InvalidImage
from tfapp.imaging import (
    average_pool_3x3,
    encode_png,
    fit_within,
    image2tensor,
    open_image,
    style2tensor,
    tensor2image,
)

from .conftest import image_bytes, make_image


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA", "L", "P", "CMYK", "1", "I", "F", "I;16"])
def test_every_mode_becomes_rgb_float_tensor_in_unit_range(mode):
    """Any Pillow mode converts to a [1, H, W, 3] float32 tensor with values in [0, 1]."""
    image = _deep_grey(mode) if mode in ("I", "I;16", "F") else make_image((20, 10)).convert(mode)
    tensor = image2tensor(image)
    assert tensor.shape == (1, 10, 20, 3)
    assert tensor.dtype == np.float32
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0


def _deep_grey(mode):
    ramp = np.tile(np.linspace(0, 65535 if mode == "I;16" else 1000, 20), (10, 1))
    if mode == "F":
        return Image.fromarray((ramp / 1000).astype(np.float32), "F")
    return Image.fromarray(ramp.astype(np.uint16 if mode == "I;16" else np.int32), mode if mode == "I" else None)


def test_sixteen_bit_greyscale_uses_its_full_range():
    """A 16-bit ramp maps to 0..1, rather than clipping everything above 255 to white."""
    ramp = Image.fromarray(np.tile(np.linspace(0, 65535, 11).astype(np.uint16), (2, 1)))
    tensor = image2tensor(ramp)
    assert tensor[0, 0, 0, 0] == 0.0
    assert tensor[0, 0, -1, 0] == 1.0
    assert tensor[0, 0, 5, 0] == pytest.approx(0.5, abs=0.01)


def test_sixteen_bit_png_file_decodes_to_its_full_range():
    """A 16-bit greyscale PNG file keeps its tones after decoding."""
    ramp = Image.fromarray(np.tile(np.linspace(0, 65535, 11).astype(np.uint16), (2, 1)))
    tensor = image2tensor(open_image(io.BytesIO(image_bytes(ramp))))
    assert tensor[0, 0, 5, 0] == pytest.approx(0.5, abs=0.01)


def test_transparent_pixels_become_white():
    """Fully transparent pixels are composited over white, not black."""
    transparent = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    assert image2tensor(transparent)[0, 0, 0].tolist() == [1.0, 1.0, 1.0]


def test_half_transparent_pixels_blend_with_white():
    """A half-transparent black pixel becomes mid grey."""
    half = Image.new("LA", (2, 2), (0, 128))
    assert image2tensor(half)[0, 0, 0, 0] == pytest.approx(127 / 255, abs=1 / 255)


def test_palette_image_with_transparency_becomes_white_where_transparent():
    """A GIF-style palette image's transparent index becomes white."""
    palette = Image.new("P", (2, 2), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    assert image2tensor(palette)[0, 0, 0].tolist() == [1.0, 1.0, 1.0]


def test_cmyk_colours_convert_to_rgb():
    """Pure cyan in CMYK becomes cyan in RGB."""
    cyan = Image.new("CMYK", (2, 2), (255, 0, 0, 0))
    assert image2tensor(cyan)[0, 0, 0].tolist() == [0.0, 1.0, 1.0]


@pytest.mark.parametrize("orientation, expected_size", [(1, (30, 10)), (3, (30, 10)), (6, (10, 30)), (8, (10, 30))])
def test_exif_orientation_is_applied(orientation, expected_size):
    """A photo tagged as rotated comes out the way the camera showed it."""
    photo = make_image((30, 10))
    exif = Image.Exif()
    exif[0x0112] = orientation
    decoded = open_image(io.BytesIO(image_bytes(photo, "JPEG", exif=exif)))
    assert decoded.size == expected_size


def test_exif_rotation_moves_the_top_left_corner():
    """Orientation 6 (rotate 90 degrees clockwise) puts the original top-left corner at the top right."""
    photo = Image.new("RGB", (30, 10), (0, 0, 255))
    photo.paste((255, 0, 0), (0, 0, 5, 5))
    exif = Image.Exif()
    exif[0x0112] = 6
    decoded = open_image(io.BytesIO(image_bytes(photo, "PNG", exif=exif)))
    red, green, blue = decoded.getpixel((decoded.width - 1, 0))
    assert red > 200 and blue < 50


def test_gif_uses_its_first_frame():
    """An animated GIF is read as its first frame."""
    frames = [Image.new("RGB", (8, 8), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    data = io.BytesIO()
    frames[0].save(data, format="GIF", save_all=True, append_images=frames[1:])
    assert open_image(io.BytesIO(data.getvalue())).getpixel((0, 0)) == (255, 0, 0)


def test_multipage_tiff_uses_its_first_page():
    """A multi-page TIFF is read as its first page."""
    pages = [Image.new("RGB", (10, 10), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    data = io.BytesIO()
    pages[0].save(data, format="TIFF", save_all=True, append_images=pages[1:])
    assert open_image(io.BytesIO(data.getvalue())).getpixel((0, 0)) == (255, 0, 0)


def test_unreadable_bytes_raise_invalid_image():
    """Bytes that are not an image raise InvalidImage with a readable message."""
    with pytest.raises(InvalidImage, match="could not be read as an image"):
        open_image(io.BytesIO(b"definitely not a picture"))


@pytest.mark.parametrize("width, height", [(5120, 512), (512, 5120), (4000, 400), (400, 4000), (1000, 1000),
                                           (1024, 768), (768, 1024)])
def test_long_side_is_limited_and_aspect_ratio_kept(width, height):
    """Aspect ratios from 1:10 to 10:1 keep their shape; the long side becomes max_size."""
    tensor = image2tensor(Image.new("RGB", (width, height)), max_size=512)
    out_height, out_width = tensor.shape[1:3]
    assert max(out_height, out_width) == 512
    assert out_width / out_height == pytest.approx(width / height, rel=0.02)


def test_small_images_are_not_enlarged():
    """An image already within the limit keeps its size."""
    assert image2tensor(Image.new("RGB", (300, 200)), max_size=512).shape == (1, 200, 300, 3)


def test_one_pixel_image_round_trips():
    """A 1x1 image becomes a [1, 1, 1, 3] tensor and back."""
    pixel = Image.new("RGB", (1, 1), (10, 20, 30))
    tensor = image2tensor(pixel, max_size=512)
    assert tensor.shape == (1, 1, 1, 3)
    assert tensor2image(tensor).getpixel((0, 0)) == (10, 20, 30)


def test_fit_within_never_returns_a_zero_side():
    """Extreme aspect ratios still leave at least one pixel on the short side."""
    assert fit_within((10000, 1), 512) == (512, 1)


def test_tensor2image_round_trips_exactly():
    """An 8-bit image survives image2tensor -> tensor2image unchanged."""
    photo = make_image((33, 17))
    assert np.array_equal(np.asarray(tensor2image(image2tensor(photo))), np.asarray(photo))


def test_tensor2image_clips_out_of_range_values():
    """Values below 0 and above 1 are clipped to black and white."""
    tensor = np.array([[[[-0.5, 0.5, 1.7]]]], np.float32)
    assert tensor2image(tensor).getpixel((0, 0)) == (0, 128, 255)


def test_tensor2image_accepts_unbatched_arrays():
    """A [H, W, 3] array converts as well as a batch of one."""
    assert tensor2image(np.zeros((4, 6, 3), np.float32)).size == (6, 4)


def test_tensor2image_refuses_a_batch_of_several():
    """A batch of more than one image is a programming error, reported clearly."""
    with pytest.raises(ValueError, match="batch of one"):
        tensor2image(np.zeros((2, 4, 4, 3), np.float32))


def test_style_image_is_scaled_to_style_size_keeping_aspect():
    """The style image's long side becomes style_size, small images included."""
    assert style2tensor(Image.new("RGB", (1000, 500)), 256).shape == (1, 128, 256, 3)
    assert style2tensor(Image.new("RGB", (100, 50)), 256).shape == (1, 128, 256, 3)


def test_average_pooling_matches_tensorflow():
    """The 3x3 pooling equals tf.nn.avg_pool with SAME padding, as in the TF-Hub tutorial."""
    import tensorflow as tf

    tensor = np.random.default_rng(0).random((1, 7, 9, 3), dtype=np.float32)
    expected = tf.nn.avg_pool(tensor, ksize=[3, 3], strides=[1, 1], padding="SAME").numpy()
    assert np.allclose(average_pool_3x3(tensor), expected, atol=1e-6)


def test_style_pooling_can_be_turned_off():
    """Without pooling the style tensor keeps its sharp edges."""
    stripes = Image.fromarray(np.tile(np.array([0, 255], np.uint8), (256, 128)))
    assert style2tensor(stripes, 256, pooling=False).std() > style2tensor(stripes, 256, pooling=True).std()


@pytest.mark.parametrize("size", [(1, 1), (2, 1), (1, 7), (20, 20), (333, 517)])
def test_encode_png_is_a_valid_lossless_png(size):
    """The PNG written for a result passes Pillow's chunk checks and decodes to the same pixels."""
    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))
    data = encode_png(photo)
    with Image.open(io.BytesIO(data)) as checked:
        checked.verify()
    decoded = Image.open(io.BytesIO(data))
    assert (decoded.format, decoded.mode, decoded.size) == ("PNG", "RGB", size)
    assert np.array_equal(np.asarray(decoded), np.asarray(photo))


def test_jpeg_can_be_decoded_at_a_reduced_scale_that_still_covers_the_needed_size():
    """With needed_side, a 2000x1000 JPEG decodes smaller than full size but at least as large as needed."""
    data = image_bytes(make_image((2000, 1000)), "JPEG")
    decoded = open_image(io.BytesIO(data), needed_side=300)
    assert 300 <= max(decoded.size) < 2000
    assert decoded.size[0] == 2 * decoded.size[1]


def test_reduced_decoding_keeps_cmyk_jpeg_colours():
    """A CMYK JPEG decoded at a reduced scale still comes out cyan."""
    data = image_bytes(Image.new("CMYK", (800, 800), (255, 0, 0, 0)), "JPEG")
    red, green, blue = open_image(io.BytesIO(data), needed_side=100).getpixel((5, 5))
    assert red < 30 and green > 220 and blue > 220


def test_needed_side_leaves_other_formats_whole():
    """PNG has no reduced decoding: the full image comes back."""
    assert open_image(io.BytesIO(image_bytes(make_image((600, 300)))), needed_side=100).size == (600, 300)
