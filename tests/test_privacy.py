"""Ownership: private by default, shared per transfer, deleted by its owner, claimed on sign-in."""
import random
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tfapp.models import Transfer

from .conftest import make_image, media_files, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def visitors(django_capture_on_commit_callbacks):
    """Two browsers (A and B), each with its own session; ``submit(browser)`` uploads from it."""
    browsers = {"A": Client(), "B": Client()}

    def submit(name):
        files = {"content_image": upload("photo.png", make_image((48, 32))),
                 "style_image": upload("style.png", make_image((32, 32)))}
        with django_capture_on_commit_callbacks(execute=True):
            response = browsers[name].post(reverse("tfapp:upload"), files)
        assert response.status_code == 302
        return Transfer.objects.get(public_id=response["Location"].split("/")[-2])

    return browsers, submit


def _listed(client, transfer):
    """Whether any list a visitor can open shows ``transfer``."""
    pages = [reverse("tfapp:upload"), reverse("tfapp:gallery"), reverse("tfapp:gallery-mine"),
             reverse("tfapp:gallery-public"), reverse("tfapp:gallery") + "?page=1"]
    return any(str(transfer.public_id) in client.get(page).content.decode() for page in pages)


def test_a_private_transfer_is_listed_only_for_its_maker(visitors):
    """B's new transfer is in B's lists and in none of A's; its link still opens for A."""
    browsers, submit = visitors
    theirs = submit("B")
    assert not theirs.shared
    assert _listed(browsers["B"], theirs)
    assert not _listed(browsers["A"], theirs)
    assert browsers["A"].get(theirs.get_absolute_url()).status_code == 200


def test_sharing_puts_a_transfer_in_the_public_gallery(visitors):
    """After B shares it, A sees it in the public gallery; after B stops sharing, A does not."""
    browsers, submit = visitors
    theirs = submit("B")
    browsers["B"].post(reverse("tfapp:share", args=[theirs.public_id]), {"shared": "on"})
    public = browsers["A"].get(reverse("tfapp:gallery-public")).content.decode()
    assert theirs.get_absolute_url() in public
    browsers["B"].post(reverse("tfapp:share", args=[theirs.public_id]), {"shared": "off"})
    assert not _listed(browsers["A"], theirs)


def test_a_shared_link_lists_only_the_siblings_its_viewer_may_see(visitors):
    """A opens B's link: B's other runs of the same photo show only once B shares them."""
    browsers, submit = visitors
    first = submit("B")
    browsers["B"].post(reverse("tfapp:try_method", args=[first.public_id]), {"method": "magenta"})
    second = Transfer.objects.exclude(pk=first.pk).get()
    assert second.get_absolute_url() in browsers["B"].get(first.get_absolute_url()).content.decode()
    assert second.get_absolute_url() not in browsers["A"].get(first.get_absolute_url()).content.decode()
    browsers["B"].post(reverse("tfapp:share", args=[second.public_id]), {"shared": "on"})
    assert second.get_absolute_url() in browsers["A"].get(first.get_absolute_url()).content.decode()


def test_only_the_owner_sees_the_share_and_delete_controls(visitors):
    browsers, submit = visitors
    theirs = submit("B")
    assert b'id="share-button"' in browsers["B"].get(theirs.get_absolute_url()).content
    assert b'id="share-button"' not in browsers["A"].get(theirs.get_absolute_url()).content


def test_another_visitor_cannot_share_or_delete(visitors, isolated_storage):
    """A's attempts on B's transfer are refused with 403 and change nothing: row and files stay."""
    browsers, submit = visitors
    theirs = submit("B")
    files = media_files(isolated_storage)
    assert browsers["A"].post(reverse("tfapp:share", args=[theirs.public_id]), {"shared": "on"}).status_code == 403
    assert browsers["A"].post(reverse("tfapp:delete", args=[theirs.public_id])).status_code == 403
    assert browsers["A"].get(reverse("tfapp:delete", args=[theirs.public_id])).status_code == 403
    theirs.refresh_from_db()
    assert not theirs.shared
    assert media_files(isolated_storage) == files


def test_delete_asks_first_then_removes_the_row_and_every_file(visitors, isolated_storage,
                                                               django_capture_on_commit_callbacks):
    """The delete page asks to confirm; confirming removes the transfer and all its files at once."""
    browsers, submit = visitors
    mine = submit("A")
    assert len(media_files(isolated_storage)) == 6
    confirm = browsers["A"].get(reverse("tfapp:delete", args=[mine.public_id]))
    assert b"Delete this transfer?" in confirm.content
    assert Transfer.objects.filter(pk=mine.pk).exists()
    # Files go once the deletion commits (at once outside the test's transaction).
    with django_capture_on_commit_callbacks(execute=True):
        response = browsers["A"].post(reverse("tfapp:delete", args=[mine.public_id]))
    assert response.status_code == 302
    assert not Transfer.objects.filter(pk=mine.pk).exists()
    assert media_files(isolated_storage) == []
    assert not (isolated_storage / "transfers" / str(mine.public_id)).exists()
    assert browsers["A"].get(mine.get_absolute_url()).status_code == 404


def test_signing_in_claims_the_sessions_transfers(visitors):
    """Transfers made before signing in become the user's, and follow them to another browser."""
    browsers, submit = visitors
    made_anonymously = submit("A")
    User.objects.create_user("ada", password="correct horse battery")
    response = browsers["A"].post(reverse("login"), {"username": "ada", "password": "correct horse battery"})
    assert response.status_code == 302
    made_anonymously.refresh_from_db()
    assert made_anonymously.owner.username == "ada"
    elsewhere = Client()
    elsewhere.login(username="ada", password="correct horse battery")
    assert _listed(elsewhere, made_anonymously)
    assert elsewhere.post(reverse("tfapp:share", args=[made_anonymously.public_id]), {"shared": "on"}).status_code == 302


def test_sign_up_creates_an_account_and_signs_in(client):
    response = client.post(reverse("signup"), {"username": "grace", "password1": "a long passphrase 42",
                                               "password2": "a long passphrase 42"})
    assert response.status_code == 302
    assert client.get(reverse("account")).status_code == 200


def test_staff_can_close_sign_up(client, settings):
    """With NST_SIGNUP_OPEN off the page is gone and the sign-in page stops offering it."""
    settings.NST_SIGNUP_OPEN = False
    assert client.get(reverse("signup")).status_code == 404
    assert client.post(reverse("signup"), {"username": "eve", "password1": "x" * 20, "password2": "x" * 20}
                       ).status_code == 404
    assert not User.objects.filter(username="eve").exists()
    assert b'id="signup-link"' not in client.get(reverse("login")).content


def test_account_page_shows_a_new_token_once_and_can_revoke_it(client):
    """A token's key is shown when made, only its hash is stored, and revoking deletes it."""
    user = User.objects.create_user("ada", password="pw-for-tests")
    client.force_login(user)
    page = client.post(reverse("account"), {"name": "laptop"}).content.decode()
    token = user.api_tokens.get()
    key = page.split('id="new-token">')[1].split("<")[0]
    assert key.startswith("rst_") and key not in token.key_hash and token.key_hash == token.hash(key)
    assert key not in client.get(reverse("account")).content.decode()
    client.post(reverse("revoke-token", args=[token.pk]))
    assert not user.api_tokens.exists()


def test_sign_up_refuses_a_weak_password(client):
    """Django's password validators apply: a short, common password is refused with the reason."""
    response = client.post(reverse("signup"), {"username": "mallory", "password1": "password",
                                               "password2": "password"})
    assert response.status_code == 200
    assert b"This password is too common" in response.content
    assert not User.objects.filter(username="mallory").exists()


def _linked(page):
    """The transfers a page links to, in order, once each."""
    return list(dict.fromkeys(re.findall(r'href="/t/([0-9a-f-]{36})/"', page.decode())))


def _listed_in_order(client):
    """The transfers of every page of a visitor's "All" gallery, in order, and of their home page's Recent."""
    pages, number = [], 1
    while not pages or len(pages[-1]) == 24:
        pages.append(_linked(client.get(reverse("tfapp:gallery"), {"page": number}).content))
        number += 1
    return sum(pages, []), _linked(client.get(reverse("tfapp:upload")).content)


@pytest.mark.databases
def test_the_lists_show_own_and_shared_transfers_newest_first_and_each_once():
    """Over every gallery page, "All" lists the visitor's own and the shared transfers, newest first, none twice.

    Three transfers share each instant, so the order of equal times must hold across pages too.
    """
    ada, bob = User.objects.create_user("ada"), User.objects.create_user("bob")
    rng, now = random.Random(1), timezone.now()
    made = Transfer.objects.bulk_create([
        Transfer(content_image="photo.png", content_width=8, content_height=8, result_image="result.png",
                 engine="lite", max_size=64, style_size=64, status=Transfer.Status.DONE,
                 owner=rng.choice([ada, bob, None]), visitor="someone", shared=rng.random() < 0.3,
                 created_at=now - timedelta(minutes=index // 3))
        for index in range(130)])
    newest_first = sorted(made, key=lambda t: (t.created_at, t.pk), reverse=True)
    for viewer, sees in ((ada, lambda t: t.owner == ada or t.shared), (None, lambda t: t.shared)):
        shown = [str(t.public_id) for t in newest_first if sees(t)]
        assert len(shown) > 24  # more than one page
        browser = Client()
        if viewer:
            browser.force_login(viewer)
        assert _listed_in_order(browser) == (shown, shown[:6])
