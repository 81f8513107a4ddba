"""Take the README's screenshots again from the running site: desktop (1280 px) and phone (390 px).

Starts the site on a fresh database in a temporary folder (Django's development
server, one real worker with the Magenta TFLite engine and AdaIN, weights from
../shared), loads the four shared paintings as presets, then in a headless Chromium
signs up, blends two presets at 80 % keeping the photo's colours, waits for the
result, tries AdaIN on the same inputs, and saves JPEGs into ``docs/``:

- ``screenshot-upload.jpg`` and ``screenshot-result.jpg``: the desktop pages, whole;
- ``screenshot-phone-upload.jpg`` and ``screenshot-phone-result.jpg``: a phone's first screen;
- ``screenshot-regions.jpg``: the regions painter, the sky kept and the cat in two paintings.

    python docs/screenshots.py [--out docs] [--chromium /usr/bin/chromium]
"""
import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._common import CONTENT, MODEL_ENV, ROOT, STYLE, start_server  # noqa: E402

DESKTOP = {"viewport": {"width": 1280, "height": 900}}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
JPEG_QUALITY = 72


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs")
    parser.add_argument("--chromium", default=os.environ.get("NST_CHROMIUM", "/usr/bin/chromium"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        env = {"NST_ENGINE_THREADS": "2", "NST_STATUS_WAIT": "5"}
        server, port, _ = start_server(workdir, env)
        worker = None
        try:
            site_env = dict(os.environ, **MODEL_ENV, **env, NST_DB_PATH=str(workdir / "db.sqlite3"),
                            NST_MEDIA_ROOT=str(workdir / "media"))
            subprocess.run([sys.executable, "manage.py", "load_presets", str(STYLE)], cwd=ROOT, env=site_env,
                           check=True, stdout=subprocess.DEVNULL)
            worker = subprocess.Popen([sys.executable, "manage.py", "worker"], cwd=ROOT, env=site_env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            take(f"http://127.0.0.1:{port}", args.out, args.chromium)
        finally:
            for process in (worker, server):
                if process:
                    process.terminate()
                    process.wait(30)


def take(base, out, chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        desktop = browser.new_context(**DESKTOP)
        page = desktop.new_page()
        sign_up(page, base)
        choose_a_blend(page)
        save(page, out / "screenshot-upload.jpg", full_page=True)
        result_url = submit_and_wait(page)
        page.click("button[data-method='adain']")
        page.locator("#result-image").wait_for(state="visible", timeout=120_000)
        page.goto(result_url)
        page.wait_for_function("[...document.images].every(image => image.complete)")
        save(page, out / "screenshot-result.jpg", full_page=True)

        phone = browser.new_context(**PHONE, storage_state=desktop.storage_state())
        page = phone.new_page()
        page.goto(base + "/")
        save(page, out / "screenshot-phone-upload.jpg")
        page.goto(result_url)
        page.wait_for_function("[...document.images].every(image => image.complete)")
        save(page, out / "screenshot-phone-result.jpg")

        page = desktop.new_page()
        page.goto(base + "/")
        paint_regions(page)
        # The whole page, cut to the painter: the sticky header stays at the top, off the picture.
        page.evaluate("window.scrollTo(0, 0)")
        save(page, out / "screenshot-regions.jpg", full_page=True, clip=page.locator("#regions").bounding_box())
        browser.close()


def sign_up(page, base):
    page.goto(base + "/accounts/signup/")
    page.fill("#id_username", "ada")
    page.fill("#id_password1", "a long passphrase 42")
    page.fill("#id_password2", "a long passphrase 42")
    page.click("#sign-up")
    page.wait_for_url(base + "/")


def choose_a_blend(page):
    """The photo, The Starry Night blended 60:40 with The Scream, at 80 %, keeping the photo's colours."""
    page.set_input_files("#id_content_image", str(CONTENT / "chelsea.png"))
    page.wait_for_selector(".dropzone-image")
    page.click("label.preset-tile:has(input[data-preset-name='The Starry Night'])")
    page.click("#blend-styles summary")
    page.select_option("#id_style_preset_2", label="The Scream (Edvard Munch, 1893)")
    page.fill("#id_style_weight", "60")
    page.fill("#id_style_weight_2", "40")
    page.fill("#id_strength", "80")
    page.check("#id_preserve_colours")
    page.evaluate("window.scrollTo(0, 0)")


def paint_regions(page):
    """Two paintings; region 2 brushed across the photo's lower part, region 3 with a wide brush at its top left."""
    page.set_input_files("#id_content_image", str(CONTENT / "chelsea.png"))
    page.click("label.preset-tile:has(input[data-preset-name='The Starry Night'])")
    page.click("#blend-styles summary")
    page.select_option("#id_style_preset_2", label="The Scream (Edvard Munch, 1893)")
    page.click("#regions-open")
    canvas = page.locator("#regions-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.15, box["y"] + box["height"] * 0.7)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.85, box["y"] + box["height"] * 0.75, steps=20)
    page.mouse.up()
    page.check("input[name='regions_paint'][value='2']")
    page.locator("#regions-brush").evaluate("range => { range.value = 120; range.dispatchEvent(new Event('input')); }")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.15)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.2, steps=20)
    page.mouse.up()
    page.select_option("#region-style-0", "keep")
    page.select_option("#region-style-1", "1")
    page.select_option("#region-style-2", "2")
    page.fill("#id_feather", "12")


def submit_and_wait(page):
    page.click("#submit-button")
    page.wait_for_url("**/t/*/", timeout=60_000)
    page.locator("#result-image").wait_for(state="visible", timeout=120_000)
    return page.url


def save(page, path, full_page=False, clip=None):
    page.screenshot(path=str(path), type="jpeg", quality=JPEG_QUALITY, full_page=full_page, clip=clip)
    print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
