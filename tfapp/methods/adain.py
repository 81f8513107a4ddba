"""AdaIN (Huang & Belongie 2017): what it declares, and the files it needs; the engine is :mod:`tfapp.engines.adain`."""
from django.core.checks import Warning

from .. import conf, runtime_choice
from .base import NATIVE, Capabilities, Method, missing_files, require_files

ENCODER_FILE = "encoder_opt_quantized.pb"
DECODER_FILE = "decoder_opt_quantized.pb"
#: The frozen graphs the engine loads.
FILES = (ENCODER_FILE, DECODER_FILE)
#: Their SHA-256 digests, checked by ``download_models --engine adain``.
DOWNLOADS = {
    ENCODER_FILE: "53a82b4677eb16faee31ab85f8e11de2fa71e490d11a2a6cd21e68071e349ca8",
    DECODER_FILE: "ab5dbec74670cb57578762317a4ca2e8519f1681cb9c1743ca88f8d6d81053ce",
}

#: Channels of the relu4_1 features AdaIN aligns.
FEATURE_CHANNELS = 512

#: Longest side run in one piece. A process's peak memory (measured by bench/adain.py):
#: 1.0 GiB at 512 px, 1.5 GiB at 1024 px, 3.3 GiB at 2048 px in one piece but 1.5 GiB in
#: 1024 px tiles, which cost about 1.6 times the work per pixel.
DEFAULT_TILE_SIZE = 1024


class Adain(Method):
    """Huang & Belongie's AdaIN over the normalised VGG-19, run by :class:`tfapp.engines.adain.AdainMethod`."""

    name = "adain"
    engine = "adain"
    implementation = "tfapp.engines.adain.AdainMethod"
    download = "adain"
    label = "AdaIN"
    description = ("Feed-forward feature alignment (Huang & Belongie 2017): any painting in one pass, "
                   "with a content/style trade-off.")
    queue = "default"
    capabilities = Capabilities(strength=True, blending=True, preserve_colours=True, style_scale=True,
                                style_vectors=True, regions=True)
    #: AdaIN per region on relu4_1, with each region's masked statistics; one decoding.
    regions_by = NATIVE
    strength_help = ("AdaIN's α: how far the photo's features move towards the painting's statistics; 0 % "
                     "decodes the photo's own features, 100 % the full style.")
    reasons = {
        "previews": "AdaIN finishes in one pass; there is nothing to preview.",
        "cancel": "AdaIN finishes in one pass, in seconds.",
        "qualities": "AdaIN has one setting.",
    }
    #: A painting's relu4_1 statistics: its 512 channel means, then their standard deviations.
    style_vector_shape = (1, 1, 1, 2 * FEATURE_CHANNELS)

    #: Seconds per megapixel of result and fixed seconds (encoding a 256 px painting) on
    #: two idle cores: half the CPU seconds ``bench/adain.py`` measured at 512x512 (6.6 s,
    #: 0.44 s of them the painting), since the busy development machine's clock could not
    #: time it; VGG-19's 1.27 s forward pass there suggests this is ~20 % pessimistic.
    SECONDS_PER_MEGAPIXEL = 11.8
    SECONDS_FIXED = 0.22
    #: The same on OpenVINO in float32 (its wide convolutions by Winograd's algorithm): wall
    #: seconds of ``bench/adain.py`` on an idle 2-core AMD EPYC host (AVX-512 BF16, no AMX):
    #: 0.90 s at 512x512, 0.64 s at 512x341 and 3.7 s at 1024x1024 (encoder and decoder warm),
    #: the painting's encoding 0.08 s of each; this line gives 1.00, 0.69 and 3.75 s.
    OPENVINO_SECONDS_PER_MEGAPIXEL = 3.5
    OPENVINO_SECONDS_FIXED = 0.08
    #: The share of that time in bfloat16 (``NST_PRECISION`` on a CPU with native BF16): 0.66 s
    #: of 1.00 at 512x512 and 0.46 of 0.69 at 512x341 on the same host. On an AVX-512 BF16 + AMX
    #: host bfloat16 ran faster still (0.32 of 1.76 CPU seconds against direct float32), so
    #: there the estimate runs long.
    BF16_SHARE = 0.66
    #: Work per pixel in tiles relative to one piece: overlapping tiles (~14 % more pixels at
    #: 2048 px) and one more encoder pass for the photo's statistics (half the work).
    TILED_WORK = 1.64

    @classmethod
    def check_available(cls):
        check_files(conf.adain_model_dir())
        runtime_choice.check_settings()

    @classmethod
    def system_checks(cls):
        folder = conf.adain_model_dir()
        missing = missing_files(folder, FILES)
        if not missing:
            return []
        return [Warning(f"The adain method is unavailable: its model folder {folder} lacks {', '.join(missing)}.",
                        hint="Run `python manage.py download_models --engine adain` (add `--source FOLDER` offline), "
                             "or set NST_ADAIN_MODEL_DIR to a folder holding these files.", id="tfapp.W005")]

    @classmethod
    def estimate_seconds(cls, width, height, quality=None):
        megapixels = width * height / 1e6
        if max(width, height) > DEFAULT_TILE_SIZE:
            megapixels *= cls.TILED_WORK
        if runtime_choice.configured_name() == "openvino":
            seconds = cls.OPENVINO_SECONDS_FIXED + cls.OPENVINO_SECONDS_PER_MEGAPIXEL * megapixels
            return seconds * (cls.BF16_SHARE if runtime_choice.configured_precision() == "bf16" else 1.0)
        return cls.SECONDS_FIXED + cls.SECONDS_PER_MEGAPIXEL * megapixels


def check_files(model_dir):
    require_files(model_dir, FILES, "AdaIN", "adain", "NST_ADAIN_MODEL_DIR")
