"""What Magenta's arbitrary image stylization network declares, whichever implementation runs it.

``NST_ENGINE`` picks the implementation: ``lite`` (:mod:`tfapp.engines.lite`, the
two-stage TFLite files, with style vectors) or ``hub`` (:mod:`tfapp.engines.hub`,
the TF-Hub SavedModel, end to end).
"""
from .base import Method

#: Measured on the 2-core development machine (README, bench/lite_engines.py): about
#: 0.9 us per content pixel plus the style prediction and fixed costs.
SECONDS_PER_PIXEL = 0.9e-6
FIXED_SECONDS = 0.05


class MagentaMethod(Method):
    name = "magenta"
    label = "Fast (Magenta)"
    description = ("Magenta's arbitrary stylization network (Ghiasi et al. 2017): a fraction of a second, "
                   "any painting.")
    queue = "default"
    smooths_style = True
    strength_help = ("Mixes the painting's style vector with your photo's own: 0 % is the network's rendition "
                     "of your photo, 100 % the full style.")

    @classmethod
    def estimate_seconds(cls, width, height, quality=None):
        return FIXED_SECONDS + SECONDS_PER_PIXEL * width * height
