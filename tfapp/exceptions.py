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


class VideoError(StyleTransferError):
    """A clip cannot be stylized: unreadable, over a limit, or without pictures.

    ``code`` names the problem for forms and the API ("not_video", "truncated",
    "no_video_stream", "no_frames", "unsupported_codec", "too_long", "too_large",
    "too_many_frames", "too_big_file", "too_small").
    """

    def __init__(self, message, code):
        super().__init__(message)
        self.code = code
