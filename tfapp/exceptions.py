"""The domain's errors. Each message is a sentence a user can read."""


class StyleTransferError(Exception):
    """Base class: something stopped a transfer."""


class ModelUnavailable(StyleTransferError):
    """The configured model could not be loaded (no network, missing files, bad handle)."""


class InvalidImage(StyleTransferError):
    """An image could not be decoded or is unusable."""


class OutOfResources(StyleTransferError):
    """The machine ran out of memory or another resource while stylizing."""


class UnsupportedByEngine(StyleTransferError):
    """The chosen method cannot apply a requested control (strength, blending, a preset vector).

    ``control`` names the control ("strength", "blending", "preserve_colours", "quality",
    "style_vectors", "regions"), so a form can attach the error to it.
    """

    def __init__(self, message, control=""):
        super().__init__(message)
        self.control = control


class Cancelled(StyleTransferError):
    """The transfer was cancelled by its owner while it ran."""


class TrainingError(StyleTransferError):
    """Training a style network cannot start or go on (bad style image, too few photos, a name in use)."""
