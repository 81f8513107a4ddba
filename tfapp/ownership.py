"""Who a transfer belongs to: a signed-in user, or an anonymous visitor's browser session.

An anonymous visitor is known by a random id kept in their session (not the
session key itself, which Django changes on sign-in); signing in moves the
session's transfers to the user.
"""
import hashlib
import secrets
from dataclasses import dataclass

from django.db.models import Q

from .models import Transfer

SESSION_KEY = "tfapp_visitor"


@dataclass(frozen=True)
class Ownership:
    """The owner a request acts for: ``user`` when signed in, else the session's ``visitor`` id."""

    user: object = None
    visitor: str = ""

    @classmethod
    def of_request(cls, request, create=False):
        """The request's owner; ``create`` gives an anonymous session a visitor id if it has none."""
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return cls(user=user)
        visitor = request.session.get(SESSION_KEY, "")
        if not visitor and create:
            visitor = request.session[SESSION_KEY] = secrets.token_hex(16)
        return cls(visitor=visitor)

    def lookup(self):
        """A filter matching this owner's transfers (nothing for a visitor without an id)."""
        if self.user is not None:
            return Q(owner=self.user)
        return Q(visitor=self.visitor, owner=None) if self.visitor else Q(pk__in=[])

    def fields(self):
        """The owner fields of a new transfer."""
        return {"owner": self.user, "visitor": "" if self.user is not None else self.visitor}

    def sees(self, transfer):
        """Whether this owner's lists show ``transfer``: their own, or shared (TransferQuerySet.visible_to)."""
        return transfer.shared or self.owns(transfer)

    def owns(self, transfer):
        if self.user is not None:
            return transfer.owner_id == self.user.pk
        return bool(self.visitor) and transfer.owner_id is None and transfer.visitor == self.visitor


def claim_session_transfers(sender, request, user, **kwargs):
    """On sign-in, the transfers made in this browser before it become the user's (``user_logged_in``)."""
    visitor = request.session.get(SESSION_KEY) if request is not None else None
    if visitor:
        Transfer.objects.filter(visitor=visitor, owner=None).update(owner=user, visitor="")


def client_id(request):
    """A stable, non-reversible id of the client's address, for per-client queue and rate limits."""
    return hashlib.sha256(request.META.get("REMOTE_ADDR", "").encode()).hexdigest()[:32]
