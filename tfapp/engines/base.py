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
