"""The dashboard in a real browser: Debian's chromium driven by Playwright, against the service
served by a werkzeug thread on 127.0.0.1.

Signs in, drops a portrait on the page, asks for five masks, waits for the pictures, checks
each is loaded and that the scores shown are the API's, signs out, and checks that the page
then shows nothing and that the tokens it held are dead. Screenshots go to the test's tmp dir
(the path is printed); ``DASHBOARD_SCREENSHOT_OUT=docs/img/dashboard.png`` also writes the
README's picture.
"""
from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

import pytest

from tests.conftest import PHOTO_DIR, make_tenant

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
PASSWORD = "correct horse battery"
FIVE = ["pores", "lines", "redness", "acne", "pigmentation"]

pytestmark = pytest.mark.browser


@pytest.fixture
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("RASTERISATION_TEST_REQUIRE_BACKENDS") == "1":
            pytest.fail(f"{CHROMIUM} missing: apt-get install -y chromium")
        pytest.skip(f"{CHROMIUM} missing: apt-get install -y chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                             headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def live_service(make_app):
    """(base_url, app, company_id, api_token, email) of a service on a werkzeug thread."""
    from werkzeug.serving import make_server

    from rasterisation.services.users import create_user

    app = make_app()
    company, api_token = make_tenant(app, "Browser clinic")
    with app.app_context():
        create_user(company_id=company, email="admin@clinic.example", password=PASSWORD,
                    role="admin")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app, company, api_token
    finally:
        server.shutdown()
        thread.join(5)


def _drop_file(page, path: Path):
    """Drag and drop ``path`` on the drop zone, as a person would from a file manager."""
    data = base64.b64encode(path.read_bytes()).decode()
    transfer = page.evaluate_handle("""([data, name]) => {
        const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
        const transfer = new DataTransfer();
        transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
        return transfer;
    }""", [data, path.name])
    page.dispatch_event("#dropzone", "dragover", {"dataTransfer": transfer})
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})


def test_dashboard_end_to_end(browser, live_service, tmp_path):
    shots = tmp_path / "screenshots"
    shots.mkdir()
    context = browser.new_context(viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    try:
        _end_to_end(page, live_service, shots)
    except BaseException:
        # what the page showed when it failed: a test artifact beside the others
        page.screenshot(path=str(shots / "failure.png"), full_page=True)
        print(f"failure screenshot: {shots / 'failure.png'}; page text:\n"
              f"{page.inner_text('body')[:2000]}")
        raise
    finally:
        context.close()


def _end_to_end(page, live_service, shots):
    import requests

    base, app, company, api_token = live_service
    page.set_default_timeout(50_000)
    console_errors, pairs = [], []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: pairs.append(r.json())
            if r.url.endswith("/api/v1/auth/login") and r.status == 200 else None)

    response = page.goto(f"{base}/dashboard/")
    headers = response.headers
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["referrer-policy"] == "no-referrer"

    # a wrong password is shown in words
    page.fill("#email", "admin@clinic.example")
    page.fill("#password", "not the password")
    page.click("#signin-button")
    page.wait_for_selector("#error:not([hidden])")
    assert "wrong email or password" in page.inner_text("#error")

    page.fill("#password", PASSWORD)
    page.click("#signin-button")
    page.wait_for_selector("body[data-state=signed-in]")
    page.wait_for_selector("input[name=algorithm][value=pores]")
    checked = page.eval_on_selector_all("input[name=algorithm]:checked",
                                        "els => els.map(e => e.value)")
    assert sorted(checked) == sorted(FIVE)

    _drop_file(page, PHOTO_DIR / "london_006.jpg")
    assert "london_006.jpg" in page.inner_text("#dropzone-text")
    page.click("#run")
    page.wait_for_selector("body[data-results]", timeout=55_000)
    image_id = page.get_attribute("body", "data-results")

    cards = page.query_selector_all(".mask-card")
    assert [c.get_attribute("data-algorithm") for c in cards] == checked
    page.wait_for_function("""() => [...document.querySelectorAll('img.mask-img')]
        .every(img => img.complete && img.naturalWidth > 0)""")
    # the scores shown are the API's (the same request, answered from the caches)
    api = requests.post(f"{base}/service/rasterisation/v4/masks/?company_id={company}",
                        headers={"Authorization": f"Bearer {api_token}"}, timeout=50,
                        json={"image_id": image_id, "image_type": "original",
                              "masks": [{"algorithm_tech_name": n, "main_metric": True,
                                         "sub_metrics": True} for n in checked]}).json()
    for card, item in zip(cards, api):
        assert item["error"] is None, item
        img = card.query_selector("img.mask-img")
        assert img.evaluate("i => i.naturalWidth") > 0
        shown = card.query_selector(".main-score")
        value = item["main_metric"]["value"]
        if value is None:
            assert shown.inner_text() == "—"
        else:
            assert shown.get_attribute("data-value") == repr(value) or \
                float(shown.get_attribute("data-value")) == pytest.approx(value)
            assert float(shown.inner_text()) == pytest.approx(value, abs=0.051)
        for words in card.query_selector_all(".feedback"):
            assert "object" not in words.inner_text()
        rows = card.query_selector_all("table.sub-metrics tr")
        assert len(rows) == len(item["sub_metrics"])
    assert page.query_selector_all("table.area-scores tr")  # per-area scores shown
    assert page.inner_text("#quality").strip()
    page.screenshot(path=str(shots / "results.png"), full_page=True)
    page.query_selector("#results").screenshot(path=str(shots / "results-section.png"))

    # toggling the mask shows the photo alone, and back
    first = cards[0].query_selector("img.mask-img")
    mask_src = first.get_attribute("src")
    cards[0].query_selector("button.toggle").click()
    assert first.get_attribute("src") != mask_src
    cards[0].query_selector("button.toggle").click()
    assert first.get_attribute("src") == mask_src

    # the past images list holds the upload
    page.wait_for_selector(f"#images li[data-image='{image_id}']")

    # phone-sized screen: nothing wider than the viewport
    page.set_viewport_size({"width": 390, "height": 844})
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    page.screenshot(path=str(shots / "phone.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 1000})

    # sign out: nothing of the company remains, and the tokens the page held are dead
    pair = pairs[-1]
    page.click("#logout")
    page.wait_for_selector("body[data-state=signed-out]")
    assert page.is_hidden("#app") and page.is_visible("#signin")
    assert page.query_selector_all(".mask-card, img.mask-img, #images li") == []
    assert requests.get(f"{base}/api/v1/auth/me", timeout=10,
                        headers={"Authorization": f"Bearer {pair['token']}"}).status_code == 401
    assert requests.post(f"{base}/api/v1/auth/token", json={"refreshToken": pair["refreshToken"]},
                         timeout=10).status_code == 401
    page.reload()
    page.wait_for_selector("#signin:not([hidden])")
    assert page.is_hidden("#app")
    page.screenshot(path=str(shots / "signed-out.png"))
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
    print(f"screenshots in {shots}")
    out = os.environ.get("DASHBOARD_SCREENSHOT_OUT")
    if out:
        from PIL import Image

        with Image.open(shots / "results-section.png") as im:  # the README's picture, small
            im = im.convert("RGB")
            im.thumbnail((960, 4000))
            im.quantize(colors=192, method=Image.Quantize.MEDIANCUT).save(out, optimize=True)
