"""Who an API request acts for (a personal token, the browser's session) and how often it may ask."""
import time
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from ninja.security import APIKeyCookie, HttpBearer
from ninja.throttling import BaseThrottle

from .. import conf
from ..models import ApiRateCount, ApiToken
from ..ownership import Ownership, client_id

#: A token's "last used" time is written at most this often, so API traffic is not a write per request.
LAST_USED_PRECISION = timedelta(minutes=1)
RATE_WINDOW = 60


class TokenAuth(HttpBearer):
    """``Authorization: Bearer <token>`` with a personal token made on the account page."""

    def authenticate(self, request, token):
        found = ApiToken.objects.matching(token)
        if found is None or not found.user.is_active:
            return None
        now = timezone.now()
        if found.last_used_at is None or now - found.last_used_at > LAST_USED_PRECISION:
            ApiToken.objects.filter(pk=found.pk).update(last_used_at=now)
        request.rate_key = f"token-{found.pk}"
        return Ownership(user=found.user)


class SessionAuth(APIKeyCookie):
    """The browser's session: its signed-in user, or (with ``NST_API_ANONYMOUS``) its anonymous visitor.

    Unsafe methods need the CSRF token, as forms do, whenever the session cookie is sent.
    """

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request):
        # Without the cookie there is nothing a forged request could ride on, so no CSRF check.
        return super()._get_key(request) if self.param_name in request.COOKIES else None

    def authenticate(self, request, key):
        if request.user.is_authenticated:
            request.rate_key = f"user-{request.user.pk}"
            return Ownership(user=request.user)
        if conf.api_anonymous():
            return Ownership.of_request(request, create=True)
        return None


class RateLimit(BaseThrottle):
    """At most ``NST_API_RATE_LIMIT`` requests per minute per token (or user), else per address.

    Counted in the database in fixed one-minute windows, so every web process
    counts together.
    """

    def allow_request(self, request):
        identity = getattr(request, "rate_key", None) or "address-" + client_id(request)
        count = ApiRateCount.objects.count_request(f"{identity}:{int(time.time() // RATE_WINDOW)}")
        if count == 1:  # a new window: forget the finished ones
            ApiRateCount.objects.filter(created_at__lt=timezone.now() - timedelta(seconds=2 * RATE_WINDOW)).delete()
        return count <= conf.api_rate_limit()

    def wait(self):
        """Seconds until the current window ends (the same for every caller, so no state is kept)."""
        return RATE_WINDOW - time.time() % RATE_WINDOW
