"""The contract every style-transfer method fulfils, and what it declares about itself.

A method is a *declaration* and an *engine*. The declaration (a :class:`Method`
subclass in a module of :mod:`tfapp.methods`) says what the method is and can do
— label, queue, capabilities with the reason for each missing one, time
estimate, the files it needs and how to check them — and names its engine in
``implementation``. It imports no machine-learning library, so web processes, the
form, the API, the admin and ``manage.py check`` read it without loading
TensorFlow, OpenVINO or LiteRT. The engine, a subclass of the declaration under
:mod:`tfapp.engines`, loads the weights and implements :meth:`Method.stylize`; only
workers and the command line import it (:meth:`Method.engine_class`).
"""
from dataclasses import dataclass

from django.utils.module_loading import import_string

from ..exceptions import ModelUnavailable


@dataclass(frozen=True)
class Capabilities:
    """What a method can honour. Each control a method lacks is disabled with its reason."""

    #: 0..1 strength: how far from the photo towards the style.
    strength: bool = False
    #: More than one style, mixed by weight.
    blending: bool = False
    #: Keep the photo's colours (done after the method, on its output, for every method that allows it).
    preserve_colours: bool = True
    #: The size the painting is seen at.
    style_scale: bool = True
    #: Intermediate images while it runs (:class:`Progress` receives them).
    previews: bool = False
    #: Stops within a few seconds when the transfer is cancelled.
    cancel: bool = False
    #: Takes precomputed style vectors (``style_vector``), so presets and uploaded styles keep theirs.
    style_vectors: bool = False
    #: Takes style images; a network trained for one painting has its style built in.
    style_input: bool = True
    #: Quality presets, fastest first (e.g. ``("draft", "standard", "fine")``); empty when it has none.
    qualities: tuple = ()
    #: Regions painted on the photo, each with its own style or the photo kept (:mod:`tfapp.regions`).
    regions: bool = False
    #: Stylizes a clip frame by frame (:mod:`tfapp.video`) in a time a clip can wait for.
    video: bool = True


#: Values of :attr:`Method.regions_by`.
COMPOSITE = "composite"
NATIVE = "native"


class Progress:
    """Where a long-running method reports how far it is, and learns that it must stop.

    The worker passes one that records progress and previews on the transfer; this
    default ignores them.
    """

    def report(self, fraction, preview=None):
        """``fraction`` of the work done (0..1); ``preview``: a callable returning the current image.

        ``preview()`` gives a ``float32`` ``[1, H, W, 3]`` array in ``[0, 1]`` and is called
        only when a preview is wanted. Raises :class:`~tfapp.exceptions.Cancelled` once the
        transfer has been cancelled, so the method stops there.
        """


class Method:
    """A style-transfer method: declared by a subclass in :mod:`tfapp.methods`, run by its engine.

    Engines (subclasses of a declaration) load their weights in ``__init__`` (raising
    :class:`~tfapp.exceptions.ModelUnavailable` with a readable reason and the command
    that fixes it) and implement :meth:`stylize`. One instance is shared by all threads
    of a process, so ``stylize`` must be thread-safe.
    """

    #: The dotted path of the engine class that runs this method (imported only by :meth:`engine_class`).
    implementation = ""
    #: What ``manage.py download_models --engine`` fetches this method's files with (empty: nothing to fetch).
    download = ""

    #: The method's identifier, stored on each transfer ("magenta", "adain", "gatys").
    name = ""
    #: The implementation that ran, stored on each transfer ("lite", "hub", "adain", "gatys").
    engine = ""
    #: Short human-readable name for choices ("Fast (Magenta)").
    label = ""
    #: One line on what it is good for.
    description = ""
    #: The job queue its transfers run in: "default" for fast work, "slow" for minutes-long work.
    queue = "default"
    capabilities = Capabilities()
    #: Whether the style is smoothed before it is seen (``NST_STYLE_POOLING``), as Magenta's tutorial does.
    smooths_style = False
    #: For each capability it lacks, a sentence saying why (shown beside the disabled control).
    reasons = {}
    #: With ``capabilities.style_vectors``: the shape of what :meth:`style_vector` returns.
    style_vector_shape = None
    #: What the strength slider does with this method, shown under it (only with ``capabilities.strength``).
    strength_help = ""
    #: How it honours regions (with ``capabilities.regions``): :data:`COMPOSITE`, one pass per region's
    #: style blended by the feathered mask in :mod:`tfapp.pipeline`, or :data:`NATIVE`, its
    #: :meth:`stylize` taking ``regions`` itself.
    regions_by = COMPOSITE

    def stylize(self, content, styles, strength=1.0, quality=None, tile_size=None, progress=None,
                content_style=None, regions=None):
        """Repaint ``content`` in the weighted blend of ``styles``, or each region in its own style.

        Args:
            content: ``float32`` array ``[1, H, W, 3]``, RGB in ``[0, 1]``, any H, W >= 1.
            styles: list of ``(style, weight)``, weights > 0 summing to 1; each style a
                ``float32`` ``[1, h, w, 3]`` image in ``[0, 1]`` already scaled to the size it
                is seen at, or (only with ``capabilities.style_vectors``) a style vector.
                Only with ``capabilities.blending`` may there be more than one.
            strength: 0..1, only with ``capabilities.strength`` (otherwise always 1).
            quality: one of ``capabilities.qualities``, or ``None`` for the method's default.
            tile_size: longest side run in one piece; larger content may be tiled (``None``: default).
            progress: a :class:`Progress`, or ``None``.
            content_style: the content prepared as the styles are (seen at the same size),
                given when ``strength < 1`` for methods that weaken a style by mixing in the
                photo's own; others ignore it.
            regions: only where :attr:`regions_by` is :data:`NATIVE`: a
                :class:`tfapp.regions.Regions` whose ``styles`` index ``styles`` (then each
                of weight 1, none left out): region k is painted in its style alone, or, for
                ``None``, styled by nothing (the pipeline puts the photo back there).
                ``regions.weights`` gives the feathered shares at any size.

        Returns:
            ``float32`` array ``[1, H, W, 3]`` in ``[0, 1]``: exactly the content's size.
        """
        raise NotImplementedError

    def style_vector(self, style):
        """Only with ``capabilities.style_vectors``: a style image -> what :meth:`stylize` takes instead of it.

        ``style``: ``float32`` ``[1, h, w, 3]`` in ``[0, 1]``, as a style is passed to
        :meth:`stylize`. Returns a ``float32`` array of :attr:`style_vector_shape` that,
        passed in its place, gives the same result; it is stored with presets and
        uploaded styles so each painting is encoded once.
        """
        raise NotImplementedError

    @classmethod
    def check_available(cls):
        """Raise :class:`~tfapp.exceptions.ModelUnavailable` where this method cannot load here.

        Found without loading any weights (files present, settings that name something),
        so a web process can say what runs without holding the networks. A file that is
        present but damaged shows only when a worker loads it: that transfer fails with the reason.
        """

    @classmethod
    def estimate_seconds(cls, width, height, quality=None):
        """Expected run time in seconds on this machine for a ``width`` x ``height`` result."""
        raise NotImplementedError

    @classmethod
    def system_checks(cls):
        """``manage.py check``'s warnings (``django.core.checks.Warning``) about what this method misses here."""
        return []

    @classmethod
    def engine_class(cls):
        """The class that runs this method, with this declaration's attributes: imports its machine-learning library.

        An engine subclasses its declaration; one written for a family of
        declarations (each trained style) is combined with this one.
        """
        implementation = import_string(cls.implementation)
        if issubclass(implementation, cls):
            return implementation
        return type(f"{implementation.__name__}_{cls.__name__}", (implementation, cls), {})

    @classmethod
    def estimate_fit(cls, quality=None):
        """``(fixed seconds, seconds per megapixel, fewest seconds)``: the estimate as the upload page computes it.

        The page's script shows ``max(fewest, fixed + per_megapixel * megapixels)``
        for the photo the visitor picks, before anything is uploaded. By default a
        line through :meth:`estimate_seconds` at 500 and 1000 px square, never below
        its value at 16 px; a method whose estimate is such a model already returns it.
        """
        small, large = (cls.estimate_seconds(side, side, quality) for side in (500, 1000))
        per_megapixel = (large - small) / 0.75
        fewest = max(0.0, cls.estimate_seconds(16, 16, quality))
        return round(small - 0.25 * per_megapixel, 3), round(per_megapixel, 3), round(fewest, 3)


def missing_files(folder, names):
    """The files of ``names`` that ``folder`` lacks, in order."""
    return [name for name in names if not (folder / name).is_file()]


def require_files(folder, names, model, engine, setting):
    """Raise ModelUnavailable naming the files of ``names`` missing from ``folder``, and how to get them.

    ``model`` names the model for people ("TFLite"), ``engine`` is ``download_models``'s
    ``--engine`` that fetches it, and ``setting`` the variable that points at another folder.
    """
    missing = missing_files(folder, names)
    if missing:
        raise ModelUnavailable(
            f"The {model} model files {', '.join(missing)} are missing from {folder}. Run `python manage.py "
            f"download_models --engine {engine}`, or set {setting} to a folder that has them."
        )
