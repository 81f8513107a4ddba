"""Sign-up and the account page (personal API tokens). Sign-in and sign-out are Django's auth views."""
from django import forms
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import LoginView
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from . import conf
from .models import ApiToken


class TokenForm(forms.Form):
    name = forms.CharField(label="Name", max_length=80, help_text="What the token is for, e.g. “laptop script”.")


def signup(request):
    """A username and a password; staff can close this page with ``NST_SIGNUP_OPEN = False``."""
    if not conf.signup_open():
        raise Http404("Sign-up is closed on this server; ask its administrator for an account.")
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # Signing in straight away also moves this browser's transfers to the new account.
        login(request, form.save(), backend="django.contrib.auth.backends.ModelBackend")
        return redirect("tfapp:upload")
    return render(request, "registration/signup.html", {"form": form})


@login_required
def account(request):
    """The signed-in user's API tokens: create one (its key is shown once) or revoke one."""
    form = TokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        _, new_key = ApiToken.issue(request.user, form.cleaned_data["name"])
        form = TokenForm()
    return render(request, "registration/account.html", {
        "form": form, "new_key": new_key, "tokens": request.user.api_tokens.all()})


@login_required
@require_POST
def revoke_token(request, token_id):
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    token.delete()
    messages.success(request, f"The token “{token.name}” is revoked.")
    return redirect("account")


class SignInView(LoginView):
    """Django's sign-in page, with a link to sign-up while it is open."""

    def get_context_data(self, **kwargs):
        return super().get_context_data(signup_open=conf.signup_open(), **kwargs)
