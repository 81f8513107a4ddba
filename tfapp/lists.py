"""The lists of transfers a visitor sees (home page, gallery), read so they scale with the table."""
from django.db import connections
from django.db.models import Q

#: The order of every list of transfers; the id breaks ties, so pages never overlap.
NEWEST_FIRST = ("-created_at", "-pk")


class NewestVisible:
    """The transfers of a queryset that ``ownership`` owns or that are shared, newest first.

    Slicing gives a queryset of that window and ``count()`` their number, as a Paginator
    asks. Read as one "own or shared" condition ordered by date, SQLite sorts every
    finished transfer for each list (0.1-0.6 s a page at 200,000; ``bench/many_transfers.py``).
    On SQLite a window is therefore taken from each side's newest rows first, each read in
    order from its own index, so a page reads about twice the rows it shows; the count is
    that of the union of the two sides. PostgreSQL answers the one condition in 3-9 ms a
    page and the split one in about 95 ms (as long as reading the whole table), so it is
    given the one condition.
    """

    ordered = True

    def __init__(self, transfers, ownership):
        self._model = transfers.model
        self._own = transfers.owned_by(ownership)
        self._shared = transfers.shared()
        self._either = transfers.filter(ownership.lookup() | Q(shared=True))
        self._split = connections[transfers.db].vendor == "sqlite"

    def count(self):
        if not self._split:
            return self._either.count()
        return self._own.values("pk").order_by().union(self._shared.values("pk").order_by()).count()

    def __getitem__(self, window):
        """The transfers in ``window``, a slice with a stop."""
        if not self._split:
            return self._either.order_by(*NEWEST_FIRST)[window]
        own, shared = (side.order_by(*NEWEST_FIRST).values("pk")[:window.stop] for side in (self._own, self._shared))
        return self._model.objects.filter(Q(pk__in=own) | Q(pk__in=shared)).order_by(*NEWEST_FIRST)[window]
