"""The regions painter in a real headless Chromium: real pointer events, the keyboard, a phone's screen."""
import io
import os
import shutil

import numpy as np
import pytest
from PIL import Image

from tfapp.models import Transfer
from tfapp.pipeline import Options
from tfapp.processing import StyleChoice, create_transfer, run_transfer
from tfapp.regions import Regions

from .conftest import CHROMIUM, CONTENT_DIR, STYLE_DIR, make_image
from .factories import image_input
from .test_layout import MEASURE, PHONE

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM),
                       reason=f"Chromium not installed at {CHROMIUM}"),
]

#: chelsea.png's size: the painter's map is the photo's size below 1024 px.
PHOTO = (451, 300)


@pytest.fixture
def console():
    return []


@pytest.fixture
def page(browser, console):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.on("console", lambda message: console.append(message.text))
    return page


def open_painter(page, base):
    page.goto(base)
    page.set_input_files("#id_content_image", str(CONTENT_DIR / "chelsea.png"))
    page.set_input_files("#id_style_image", str(STYLE_DIR / "starry_night.jpg"))
    page.locator("#regions-open").wait_for(state="visible")
    page.click("#regions-open")
    page.locator("#regions-canvas").wait_for(state="visible")
    return canvas_box(page)


def canvas_box(page):
    """Where the canvas is on the screen now (choosing a tool above it may have scrolled the page)."""
    canvas = page.locator("#regions-canvas")
    canvas.scroll_into_view_if_needed()
    return canvas.bounding_box()


def stored_mask(transfer):
    with transfer.regions_mask.open("rb") as stored:
        return np.asarray(Image.open(io.BytesIO(stored.read())))


def test_paint_a_stroke_keep_it_as_the_photo_and_see_the_regions_on_the_result(live_server, page, console):
    """A mouse stroke across the photo becomes region 1 where it went, kept as the photo; the rest takes style 2."""
    box = open_painter(page, live_server.url)
    middle = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.1, middle)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(box["x"] + box["width"] * (0.1 + 0.03 * step), middle)
    page.mouse.up()
    page.set_input_files("#id_style_image_2", str(STYLE_DIR / "the_scream.jpg"))
    options = page.locator("#region-style-0 option").all_inner_texts()
    assert options == ["Style 1: starry_night.jpg", "Style 2: the_scream.jpg", "Keep the photo"]
    page.select_option("#region-style-0", "2")
    page.select_option("#region-style-1", "keep")
    assert page.locator("#id_region_styles").input_value() == "2,keep"
    page.click("#submit-button")
    page.wait_for_url("**/t/*/", timeout=60_000)

    transfer = Transfer.objects.get()
    assert (transfer.region_styles, transfer.feather, transfer.styles.count()) == ("2,keep", 0, 2)
    mask = stored_mask(transfer)
    assert mask.shape == (PHOTO[1], PHOTO[0])
    row = PHOTO[1] // 2
    assert (mask[row, int(PHOTO[0] * 0.15):int(PHOTO[0] * 0.35)] == 1).all()
    assert (mask[row, int(PHOTO[0] * 0.5):] == 0).all()
    assert (mask[:row - 40] == 0).all() and (mask[row + 40:] == 0).all()

    run_transfer(transfer.pk)
    page.reload()
    toggle = page.locator("#regions-toggle")
    toggle.wait_for(state="visible")
    legend = page.locator("#regions-legend").inner_text()
    assert "Region 1: Style 2: your image" in legend and "Region 2: Keeps the photo" in legend
    toggle.focus()
    page.keyboard.press("Enter")
    assert toggle.get_attribute("aria-pressed") == "false" and page.locator("#regions-overlay").is_hidden()
    assert not [text for text in console if "Content Security Policy" in text]


def test_fill_eraser_and_undo(live_server, page):
    """Fill paints the whole photo and undo takes it back; the eraser takes out a stroke the brush made."""
    open_painter(page, live_server.url)
    summary = page.locator("#regions-summary")
    page.check("input[name='regions_tool'][value='fill']")
    box = canvas_box(page)
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    assert summary.inner_text().startswith("2 regions")
    page.click("#regions-undo")
    assert summary.inner_text() == "" and page.locator("#id_region_styles").input_value() == ""
    for tool in ("brush", "eraser"):
        page.check(f"input[name='regions_tool'][value='{tool}']")
        box = canvas_box(page)
        page.mouse.move(box["x"] + 40, box["y"] + 40)
        page.mouse.down()
        page.mouse.move(box["x"] + 120, box["y"] + 60, steps=5)
        page.mouse.up()
        assert summary.inner_text().startswith("2 regions") if tool == "brush" else summary.inner_text() == ""


def test_the_painters_controls_work_from_the_keyboard(live_server, page):
    """Open, choose a tool and a region with the arrow keys, pick a style, and close, all without a pointer."""
    open_painter(page, live_server.url)
    page.click("#regions-done")
    opener = page.locator("#regions-open")
    assert page.evaluate("document.activeElement.id") == "regions-open"
    page.keyboard.press("Enter")
    assert opener.get_attribute("aria-expanded") == "true"
    page.focus("input[name='regions_tool'][value='brush']")
    page.keyboard.press("ArrowRight")
    assert page.locator("input[name='regions_tool']:checked").get_attribute("value") == "eraser"
    page.focus("input[name='regions_paint'][value='1']")
    page.keyboard.press("ArrowDown")
    assert page.locator("input[name='regions_paint']:checked").get_attribute("value") == "2"
    page.focus("#region-style-0")
    page.keyboard.press("ArrowDown")
    assert page.locator("#region-style-0").input_value() == "keep"
    page.focus("#regions-done")
    page.keyboard.press("Enter")
    assert page.locator("#regions-painter").is_hidden() and opener.get_attribute("aria-expanded") == "false"


def test_a_phone_paints_with_touch_and_nothing_is_wider_than_its_screen(live_server, browser):
    """On a 390 px phone the open painter fits the screen, and a tap with the fill tool paints."""
    context = browser.new_context(**PHONE)
    page = context.new_page()
    box = open_painter(page, live_server.url)
    assert box["width"] <= PHONE["viewport"]["width"]
    measured = page.evaluate(MEASURE)
    assert measured["width"] <= PHONE["viewport"]["width"], measured["sticking"]
    assert page.evaluate("getComputedStyle(document.querySelector('#regions-canvas')).touchAction") == "none"
    page.check("input[name='regions_tool'][value='fill']")
    box = canvas_box(page)
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert page.locator("#regions-summary").inner_text().startswith("2 regions")
    context.close()


def test_edit_and_rerun_reopens_the_regions_and_sends_them_again(live_server, page):
    """A re-run's painter has the earlier mask, and submitting it unchanged stores the same mask."""
    open_painter(page, live_server.url)
    page.check("input[name='regions_tool'][value='fill']")
    box = canvas_box(page)
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    page.check("input[name='regions_tool'][value='brush']")
    page.check("input[name='regions_paint'][value='2']")
    box = canvas_box(page)
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + 10)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] - 10, steps=8)
    page.mouse.up()
    page.select_option("#region-style-0", "keep")
    page.click("#submit-button")
    page.wait_for_url("**/t/*/", timeout=60_000)
    first = Transfer.objects.get()
    assert first.region_styles == "keep,1,1"

    page.goto(f"{live_server.url}/?from={first.public_id}")
    page.wait_for_function("document.querySelector('#regions-summary').textContent.startsWith('3 regions')")
    assert page.locator("#regions-canvas").is_visible()
    assert page.locator("#region-style-0").input_value() == "keep"
    page.click("#submit-button")
    page.wait_for_url("**/t/*/", timeout=60_000)
    second = Transfer.objects.exclude(pk=first.pk).get()
    assert second.region_styles == "keep,1,1"
    assert np.array_equal(stored_mask(second), stored_mask(first))


def test_the_result_page_with_regions_fits_a_phone(live_server, browser):
    """A finished transfer's regions and legend stay within a 390 px screen."""
    labels = np.zeros((64, 96), np.uint8)
    labels[:, 48:] = 1
    transfer = create_transfer(image_input("photo.png", make_image((96, 64))),
                               [StyleChoice(image_input("style.png", make_image((32, 32))))], Options(),
                               regions=Regions(labels, (0, None), 0))
    run_transfer(transfer.pk)
    context = browser.new_context(**PHONE)
    page = context.new_page()
    page.goto(live_server.url + transfer.get_absolute_url())
    page.locator("#regions-toggle").wait_for(state="visible")
    measured = page.evaluate(MEASURE)
    assert measured["width"] <= PHONE["viewport"]["width"], measured["sticking"]
    context.close()


def test_regions_are_painted_on_a_clips_first_frame(live_server, page, console, tmp_path):
    """With a clip chosen, the painter shows its first frame at the clip's size; the fill is sent as its mask."""
    from .clips import moving_frames, write_clip

    clip = write_clip(tmp_path / "walk.mp4", moving_frames(96, 72, 4), fps=10)
    page.goto(live_server.url)
    page.set_input_files("#id_content_image", str(clip))
    page.set_input_files("#id_style_image", str(STYLE_DIR / "starry_night.jpg"))
    page.locator("#regions-open").wait_for(state="visible", timeout=30_000)
    page.click("#regions-open")
    page.check("input[name='regions_tool'][value='fill']")
    box = canvas_box(page)
    assert page.evaluate("[document.querySelector('#regions-canvas').width, "
                         "document.querySelector('#regions-canvas').height]") == [96, 72]
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    page.select_option("#region-style-1", "keep")
    page.click("#submit-button")
    page.wait_for_url("**/t/*/", timeout=60_000)
    transfer = Transfer.objects.get()
    assert transfer.is_clip and transfer.region_styles == "1,keep"
    assert (stored_mask(transfer) == 1).all()
    assert not [text for text in console if "Content Security Policy" in text]
