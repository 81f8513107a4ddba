"""The contract every style-transfer engine fulfils."""


class Engine:
    """A loaded style-transfer model.

    Subclasses load their weights in ``__init__`` (raising
    :class:`~tfapp.exceptions.ModelUnavailable` with a readable reason when they
    cannot) and implement :meth:`stylize`. An instance is shared by all threads of a
    process, so ``stylize`` must be thread-safe.
    """

    #: Short identifier stored on each transfer ("hub", "lite").
    name = ""

    #: Human-readable description shown on the pages.
    label = ""

    #: Whether the engine exposes the style as a vector (:meth:`style_vector`,
    #: :meth:`transfer`). Strength, blending several styles and precomputed preset
    #: vectors all work on that vector, so an engine without it offers none of them.
    supports_style_vectors = False

    def stylize(self, content, style):
        """Repaint ``content`` in the style of ``style``.

        Args:
            content: ``float32`` array ``[1, H, W, 3]``, RGB in ``[0, 1]``, any H, W >= 1.
            style: ``float32`` array ``[1, h, w, 3]``, RGB in ``[0, 1]``, already scaled
                to the size the style should be seen at.

        Returns:
            ``float32`` array ``[1, H, W, 3]`` in ``[0, 1]``: exactly the content's size.
        """
        raise NotImplementedError

    def style_vector(self, style):
        """Only when :attr:`supports_style_vectors`: the style of ``style`` as numbers.

        Args:
            style: ``float32`` array ``[1, h, w, 3]``, RGB in ``[0, 1]``, as for :meth:`stylize`.

        Returns:
            ``float32`` array ``[1, 1, 1, N]``; vectors of one engine may be mixed linearly.
        """
        raise NotImplementedError

    def transfer(self, content, style_vector, tile_size=None):
        """Only when :attr:`supports_style_vectors`: :meth:`stylize` given a style vector.

        Args:
            content: as for :meth:`stylize`.
            style_vector: ``float32`` array ``[1, 1, 1, N]`` from :meth:`style_vector`,
                or a weighted average of several.
            tile_size: longest side the network runs at in one piece; larger content
                is stylized in overlapping tiles (``None``: the engine's default).

        Returns:
            ``float32`` array ``[1, H, W, 3]`` in ``[0, 1]``: exactly the content's size.
        """
        raise NotImplementedError
