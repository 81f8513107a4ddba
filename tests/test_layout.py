"""Every page fits a phone and a desktop screen, in a real headless Chromium, signed in and not."""
import os
import shutil

import pytest
from django.contrib.auth.models import User

from tfapp.models import Transfer

from .conftest import CHROMIUM
from .factories import make_transfer

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM),
                       reason=f"Chromium not installed at {CHROMIUM}"),
]

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PASSWORD = "a long passphrase 42"

#: The page's width, and the elements that reach past the screen's right edge (for the failure message).
MEASURE = """() => {
  const screen = window.screen.width < window.outerWidth ? window.screen.width : window.outerWidth;
  const sticking = [...document.body.querySelectorAll("*")].filter(element => {
    const box = element.getBoundingClientRect();
    return box.width > 0 && box.right > screen + 0.5;
  }).slice(0, 5).map(element => element.tagName.toLowerCase() + (element.id ? "#" + element.id : "") +
    (typeof element.className === "string" && element.className ? "." + element.className.split(" ").join(".") : ""));
  return {width: document.documentElement.scrollWidth, sticking: sticking};
}"""


@pytest.fixture
def transfers(settings):
    """Ada's finished transfer, one of hers waiting in the queue and one running, with a preview's progress."""
    settings.NST_STATUS_WAIT = 0  # the result pages ask for news at once, leaving no request open after the test
    ada = User.objects.create_user("ada", password=PASSWORD)
    done = make_transfer(owner=ada, size=(96, 64))
    queued = make_transfer(run=False, owner=ada, size=(96, 64))
    running = make_transfer(run=False, owner=ada, size=(96, 64))
    Transfer.objects.filter(pk=running.pk).update(status=Transfer.Status.RUNNING, progress=0.4)
    return done, queued, running


def pages(done, queued, running, signed_in):
    """The path of every page a visitor meets; the owner's own pages when ``signed_in``."""
    shared = ["/", "/gallery/", "/gallery/mine/", "/gallery/public/", done.get_absolute_url(),
              queued.get_absolute_url(), running.get_absolute_url(), "/api/docs"]
    if signed_in:
        return shared + [f"/t/{done.public_id}/delete/", "/accounts/", "/accounts/password/"]
    return shared + ["/accounts/login/", "/accounts/signup/"]


def sign_in(page, base):
    page.goto(base + "/accounts/login/")
    page.fill("#id_username", "ada")
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")
    page.wait_for_url(base + "/")


@pytest.mark.parametrize("device", [PHONE, DESKTOP], ids=["phone-390", "desktop-1280"])
def test_no_page_is_wider_than_the_screen(live_server, browser, transfers, device):
    """On a 390 px phone and a 1280 px desktop no page scrolls sideways, signed in or not, and no request fails."""
    width = device["viewport"]["width"]
    overflowing, failed = {}, []
    for signed_in in (False, True):
        context = browser.new_context(**device)
        page = context.new_page()
        page.on("response", lambda response: response.status >= 400 and failed.append(response.url))
        if signed_in:
            sign_in(page, live_server.url)
        for path in pages(*transfers, signed_in):
            page.goto(live_server.url + path)
            if path == "/api/docs":
                page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
            measured = page.evaluate(MEASURE)
            if measured["width"] > width:
                overflowing[("signed in " if signed_in else "") + path] = measured
        context.close()
    assert not overflowing, "\n".join(f"{path}: {found['width']} px wide; past the edge: {', '.join(found['sticking'])}"
                                       for path, found in overflowing.items())
    assert failed == []
