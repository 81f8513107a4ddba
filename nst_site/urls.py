from django.conf import settings
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from django.views.static import serve

from tfapp import accounts
from tfapp.api import api


def media(request, path):
    """Uploads and results, by their unguessable paths, from the MEDIA_ROOT of the moment.

    Every response carries X-Content-Type-Options: nosniff (SecurityMiddleware), so a
    browser only ever treats a file as the type its name gives it.
    """
    return serve(request, path, document_root=settings.MEDIA_ROOT)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/login/", accounts.SignInView.as_view(), name="login"),
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/", accounts.account, name="account"),
    path("accounts/tokens/<int:token_id>/revoke/", accounts.revoke_token, name="revoke-token"),
    path("accounts/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("tfapp.urls")),
    re_path(rf"^{settings.MEDIA_URL.lstrip('/')}(?P<path>.*)$", media),
]
