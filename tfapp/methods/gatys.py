"""Gatys et al.'s optimisation: what it declares, its qualities and their measured time model.

The engine, the optimisation itself, is :mod:`tfapp.engines.gatys`.
"""
from django.core.checks import Warning

from .. import conf, runtime_choice
from ..exceptions import ModelUnavailable
from .base import NATIVE, Capabilities, Method

#: The normalised VGG-19 npz Gatys measures with (``NST_VGG_WEIGHTS``), and its SHA-256, checked
#: when ``download_models --engine vgg --source`` copies it (otherwise it is derived from AdaIN's encoder).
VGG_FILE = "vgg19_normalised_relu4_1.npz"
VGG_SHA256 = "750dc39ebbc1227e0efbdf19268ae0e51ff9133122d062ea0203f659584680aa"

#: The quality presets, fastest first; the engine has a schedule for each.
QUALITIES = ("draft", "standard", "fine")
DEFAULT_QUALITY = "standard"

#: ``(fixed seconds, seconds per megapixel, fewest seconds)`` per quality: the least-squares
#: line through the times ``bench/estimates.py`` measured at 128, 256 and 512 px (4:3) on
#: the idle 2-core AMD EPYC host (avx512f, avx512_bf16, no AMX; Gatys runs in f32),
#: intercept held at zero or above, never below the fastest run. Larger sizes are
#: extrapolated. The upload page, the form's too-slow check and docs/engines.md all use
#: these numbers.
ESTIMATES = {
    "draft": (1.16, 23.9, 1.8),
    "standard": (3.44, 132.5, 3.5),
    "fine": (2.59, 176.4, 3.4),
}

#: The share of that time with ``NST_PRECISION=bf16`` on a CPU with native BF16: 0.38-0.47 at
#: the standard quality on three pairs at 512 px in ``bench/gatys.py --bf16`` (AVX-512 BF16 + AMX host), rounded up.
BF16_SHARE = 0.5


class Gatys(Method):
    """Gatys et al.'s optimisation over VGG-19 Gram matrices, run by :class:`tfapp.engines.gatys.GatysMethod`."""

    name = "gatys"
    engine = "gatys"
    implementation = "tfapp.engines.gatys.GatysMethod"
    download = "vgg"
    label = "Gatys (slow, finest)"
    description = "Optimises the photo itself until its textures match the painting's: minutes, finest detail."
    queue = "slow"
    capabilities = Capabilities(strength=True, blending=True, preserve_colours=True, style_scale=True,
                                previews=True, cancel=True, qualities=QUALITIES, regions=True, video=False)
    #: A style loss per region, with Gram matrices masked by the region (Gatys et al. 2017).
    regions_by = NATIVE
    reasons = {"style_vectors": "Gatys optimises against the painting's own features, not a style vector.",
               "video": "Gatys optimises each picture for a minute or more: a clip of hundreds of frames would take "
                        "hours. Choose Magenta, AdaIN or a trained style for clips."}
    strength_help = "The weight of the painting's textures against your photo's content: 0 % leaves the photo as it is."

    @classmethod
    def check_available(cls):
        path = conf.vgg_weights_path()
        if not path.is_file():
            raise ModelUnavailable(f"The VGG-19 weights {path} could not be read (no such file). Run `python "
                                   "manage.py download_models --engine vgg`, or set NST_VGG_WEIGHTS to the .npz file.")

    @classmethod
    def system_checks(cls):
        weights = conf.vgg_weights_path()
        if weights.is_file():
            return []
        return [Warning(f"The gatys method is unavailable: the VGG-19 weights {weights} are missing.",
                        hint="Run `python manage.py download_models --engine vgg` (add `--source FOLDER` offline), or "
                             "set NST_VGG_WEIGHTS to the .npz file.", id="tfapp.W006")]

    @classmethod
    def estimate_fit(cls, quality=None):
        """The measured time model of ``quality``: see :data:`ESTIMATES` (and :data:`BF16_SHARE`)."""
        if quality is not None and quality not in QUALITIES:
            raise ValueError(f"Gatys has no quality {quality!r}; it has {', '.join(QUALITIES)}.")
        share = BF16_SHARE if runtime_choice.tensorflow_precision() == "bf16" else 1.0
        return tuple(round(value * share, 3) for value in ESTIMATES[quality or DEFAULT_QUALITY])

    @classmethod
    def estimate_seconds(cls, width, height, quality=None):
        fixed, per_megapixel, fewest = cls.estimate_fit(quality)
        return round(max(fewest, fixed + per_megapixel * width * height / 1e6), 1)
