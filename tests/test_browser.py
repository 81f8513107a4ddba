"""End to end in a real headless Chromium: upload two images and see the result, and the pages' controls."""
import os
import shutil

import pytest
from django.contrib.auth.models import User

from tfapp.models import Transfer
from tfapp.pipeline import Options
from tfapp.processing import StyleChoice

from .conftest import CHROMIUM, CONTENT_DIR, STYLE_DIR, make_image
from .factories import image_input, make_transfer
from .test_training import publish_untrained

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM),
                       reason=f"Chromium not installed at {CHROMIUM}"),
]


@pytest.fixture
def page(browser):
    return browser.new_page(viewport={"width": 1280, "height": 900})


def test_upload_two_images_and_see_the_result(live_server, page, workers):
    """A user submits a photo and a painting; the result page follows the job and shows the image."""
    page.goto(live_server.url)
    page.set_input_files("#id_content_image", str(CONTENT_DIR / "chelsea.png"))
    page.set_input_files("#id_style_image", str(STYLE_DIR / "starry_night.jpg"))
    page.click("#submit-button")
    page.wait_for_url("**/t/*/", timeout=60_000)
    assert page.locator("#transfer-status").get_attribute("data-status") == "queued"
    assert page.locator("#progress-note").inner_text().startswith("Position 1 in the queue")
    # Only now start a worker: the page must notice the job finish by polling, without a reload by the user.
    workers()
    result = page.locator("#result-image")
    result.wait_for(state="visible", timeout=60_000)
    assert page.locator("#transfer-status").get_attribute("data-status") == "done"
    page.wait_for_function("document.querySelector('#result-image').complete", timeout=30_000)
    assert page.evaluate("document.querySelector('#result-image').naturalWidth") == 451
    assert page.evaluate("document.querySelector('#result-image').naturalHeight") == 300
    if os.environ.get("NST_SCREENSHOT"):
        page.screenshot(path=os.environ["NST_SCREENSHOT"], full_page=True)


def test_choose_gatys_draft_and_watch_the_preview_update_before_the_result(live_server, page, workers, settings):
    """A user picks Gatys (draft): the page shows the picture forming, with progress, before the result."""
    settings.NST_MAX_CONTENT_SIZE = 256
    workers("--queues", "slow", NST_PREVIEW_INTERVAL="0.5")
    page.goto(live_server.url)
    page.set_input_files("#id_content_image", str(CONTENT_DIR / "chelsea.png"))
    page.set_input_files("#id_style_image", str(STYLE_DIR / "starry_night.jpg"))
    page.check("#id_method_gatys")
    assert page.locator("#id_quality").is_enabled()
    page.select_option("#id_quality", "draft")
    page.click("#submit-button")
    page.wait_for_url("**/t/*/", timeout=60_000)
    # The page shows the preview (without a reload by the user) before the result replaces it.
    page.locator("#preview-image").wait_for(state="visible", timeout=120_000)
    assert "%" in page.locator("#progress-figures").inner_text()
    assert page.locator("#result-image").count() == 0
    page.locator("#result-image").wait_for(state="visible", timeout=120_000)
    assert page.locator("#transfer-method").get_attribute("data-method") == "gatys"


def test_the_page_gives_a_small_photos_gatys_time_from_the_servers_model(live_server, page, tmp_path):
    """For a 160x120 photo the page shows Gatys standard's time as the form's model computes it, not 'under a second'."""
    from PIL import Image

    from tfapp.engines.gatys import GatysMethod

    photo = tmp_path / "small.png"
    Image.new("RGB", (160, 120), (90, 140, 200)).save(photo)
    page.goto(live_server.url)
    page.set_input_files("#id_content_image", str(photo))
    page.check("#id_method_gatys")
    page.select_option("#id_quality", "standard")
    label = page.locator("[data-method-time='gatys']")
    page.wait_for_function("document.querySelector(\"[data-method-time='gatys']\").textContent.includes('your photo')")
    seconds = round(GatysMethod.estimate_seconds(160, 120, "standard"))
    assert label.inner_text() == f"about {seconds} s for your photo (standard)"


REPORT_VIOLATIONS = """
document.addEventListener("securitypolicyviolation", function (event) {
  window.reportViolation(location.pathname + ": " + event.violatedDirective + " " + (event.blockedURI || "inline"));
});
"""


def test_pages_work_under_the_content_security_policy(live_server, page, workers):
    """Sign up, upload, follow, share, see the admin, delete, make a token, open the API docs: no CSP violation."""
    console = []
    page.on("console", lambda message: console.append(message.text))
    violations = []
    page.expose_function("reportViolation", lambda report: violations.append(report))
    page.add_init_script(REPORT_VIOLATIONS)

    def visit(path):
        page.goto(live_server.url + path)

    # The check itself: an inline style the policy forbids is reported.
    visit("/")
    page.evaluate("document.body.insertAdjacentHTML('beforeend', '<p style=\"color: red\">inline</p>')")
    page.wait_for_timeout(300)
    assert violations and "style-src" in violations[0]
    assert any("Content Security Policy" in text for text in console)
    violations.clear()
    console.clear()

    visit("/accounts/signup/")
    page.fill("#id_username", "ada")
    page.fill("#id_password1", "a long passphrase 42")
    page.fill("#id_password2", "a long passphrase 42")
    page.click("#sign-up")
    page.wait_for_url(live_server.url + "/")
    page.set_input_files("#id_content_image", str(CONTENT_DIR / "chelsea.png"))
    page.set_input_files("#id_style_image", str(STYLE_DIR / "starry_night.jpg"))
    page.wait_for_selector(".dropzone-image", timeout=10_000)  # the photo's preview, from a blob: URL
    page.click("#submit-button")
    page.wait_for_url("**/t/*/", timeout=60_000)
    workers()
    page.locator("#result-image").wait_for(state="visible", timeout=60_000)
    page.click("#share-button")
    page.wait_for_selector("text=Shared in the public gallery.")
    User.objects.filter(username="ada").update(is_staff=True, is_superuser=True)
    visit("/admin/tfapp/transfer/")
    page.wait_for_selector("img.admin-thumb")
    visit("/gallery/public/")
    assert page.locator("#gallery-grid li").count() == 1
    page.click("#gallery-grid a")
    page.click("#delete-link")
    page.click("#confirm-delete")
    page.wait_for_url(live_server.url + "/gallery/")
    assert page.locator("#gallery-empty").is_visible()
    visit("/accounts/")
    page.fill("#id_name", "laptop")
    page.click("#create-token")
    assert page.locator("#new-token").inner_text().startswith("rst_")
    visit("/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    page.wait_for_timeout(500)  # reports are delivered asynchronously
    assert violations == []
    assert not [text for text in console if "Content Security Policy" in text]


@pytest.mark.model
def test_try_another_method_offers_only_what_it_accepts(live_server, page, settings, fresh_engine):
    """On a 50 % blend the trained style is disabled with its reason; every other choice opens its new transfer."""
    settings.NST_STATUS_WAIT = 0  # the new transfers' pages ask for news at once, leaving no request open after
    settings.NST_MAX_PENDING_PER_CLIENT = 50
    publish_untrained("scream", steps=1)
    styles = [StyleChoice(image_input(f"{name}.png", make_image((32, 32), pattern=name == "a", color="red")), 50)
              for name in ("a", "b")]
    blend = make_transfer(styles=styles, options=Options(strength=0.5))
    page.goto(live_server.url + blend.get_absolute_url())
    trained = page.locator(".method-option", has=page.locator("button[data-method='trained:scream']"))
    assert trained.locator("button").is_disabled()
    assert "paints its one style at full strength" in trained.locator(".method-refusal").inner_text()
    choices = [(option.locator("button").get_attribute("data-method"), quality)
               for option in page.locator(".method-option:not(.is-unavailable)").all()
               for quality in option.locator("option").all_text_contents() or [""]]
    assert choices == [("adain", ""), ("gatys", "Draft"), ("gatys", "Standard"), ("gatys", "Fine")]
    for method, quality in choices:
        page.goto(live_server.url + blend.get_absolute_url())
        option = page.locator(".method-option", has=page.locator(f"button[data-method='{method}']"))
        if quality:
            option.locator("select").select_option(label=quality)
        option.locator("button").click()
        page.wait_for_url(lambda url: str(blend.public_id) not in url)
        assert page.locator("#transfer-method").get_attribute("data-method") == method
        assert page.locator("#detail-strength").inner_text() == "50 %"
    assert Transfer.objects.count() == 1 + len(choices)


def test_the_strength_help_follows_the_chosen_method(live_server, page):
    """Switching the method on the upload page changes what the page says strength does."""
    page.goto(live_server.url)
    help_text = page.locator("[data-strength-help]")
    assert "style vector" in help_text.inner_text()
    page.check("#id_method_adain")
    assert "α" in help_text.inner_text()
    page.check("#id_method_gatys")
    assert "leaves the photo as it is" in help_text.inner_text()
