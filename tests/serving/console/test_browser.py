"""The console in a real browser: headless Chromium (the system package) driven by Playwright, against the real
service (``shopml serve``). Every page of every role is opened and photographed into ``screenshots/``; the
browser must draw every chart without a Content-Security-Policy violation or a script error."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from serving.console.access import PAGES, may
from serving.console.session import COOKIE, SessionCodec, console_secret
from tests.serving.conftest import KEYS
from tests.serving.console.conftest import ROLES, SCREENSHOTS, chromium_path


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (no cookies) at 1280 x 800; fails the test on any script or CSP error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, accept_downloads=True)
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(f"script error: {exc}"))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and (
        "Content Security Policy" in msg.text or "Refused" in msg.text) else None)
    yield tab
    context.close()
    assert not errors, errors


def login(page, url: str, role_or_key: str) -> None:
    page.goto(f"{url}/console/login")
    page.fill("#key", KEYS.get(role_or_key, role_or_key))
    page.click("form[action$='/login'] button[type=submit]")
    page.wait_for_load_state()


def charts_drawn(page) -> int:
    """Waits until every figure on the page has been drawn by plotly.js; returns how many there are."""
    from playwright.sync_api import expect

    figures = page.locator("[data-figure]")
    count = figures.count()
    for i in range(count):  # locator polling: no eval, which the page's Content-Security-Policy forbids
        expect(figures.nth(i)).to_have_attribute("data-drawn", "true", timeout=60_000)
    assert page.locator(".chart svg.main-svg").count() >= count
    return count


@pytest.mark.parametrize("role", ROLES)
def test_each_role_logs_in_and_opens_every_page_it_may(page, server, role):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    login(page, server.url, role)
    nav = [a.inner_text() for a in page.locator("header nav a").all()]
    allowed = [p for p in PAGES if may(frozenset({role}), p.api_route)]
    assert nav == [p.title for p in allowed]
    for spec in allowed:
        answer = page.goto(f"{server.url}/console/{spec.name}")
        assert answer.status == 200, (role, spec.name)
        assert page.locator("h1").first.inner_text() == spec.title
        assert page.locator(".problem").count() == 0, page.locator(".problem").first.inner_text()
        charts_drawn(page)
        page.screenshot(path=str(SCREENSHOTS / f"{role}-{spec.name}.png"), full_page=True)
    for spec in PAGES:
        if spec not in allowed:  # the cross-role page: refused, with no data
            answer = page.goto(f"{server.url}/console/{spec.name}")
            assert answer.status == 403 and page.locator("[data-figure], table").count() == 0


def test_audience_builder_counts_previews_and_downloads_the_csv(page, server, needs):
    from playwright.sync_api import expect

    needs("customers")
    login(page, server.url, "marketing")
    page.goto(f"{server.url}/console/customers")
    charts_drawn(page)
    everyone = page.locator("#audience-count").inner_text()
    page.check("input[name=segment][value=at_risk]")
    expect(page.locator("#audience-count")).not_to_have_text(everyone)
    live = int(page.locator("#audience-count").inner_text().replace(",", ""))
    page.click("#preview-button")
    page.wait_for_selector("#preview")
    segments = {cell.inner_text() for cell in page.locator("#preview tbody tr td:nth-child(2)").all()}
    assert segments <= {"at_risk"} and page.locator("#preview tbody tr").count() == min(live, 20)
    page.screenshot(path=str(SCREENSHOTS / "marketing-audience.png"), full_page=True)
    with page.expect_download() as download:
        page.click("#export-button")
    lines = Path(download.value.path()).read_text().strip().splitlines()
    assert lines[0].startswith("customer_id,churn_probability") and len(lines) - 1 == live
    assert all(line.endswith(",at_risk") for line in lines[1:])


def test_experiment_from_the_example_spec(page, server):
    login(page, server.url, "marketing")
    page.goto(f"{server.url}/console/experiments")
    page.select_option("#example", "experiment_checkout.json")
    page.click("#evaluate-button")
    page.wait_for_selector("#decision")
    assert page.locator("#decision").inner_text().strip()
    assert page.locator("#reasons li").count() >= 1 and page.locator("#comparisons tbody tr").count() == 5
    assert page.locator("#srm").count() == 1
    charts_drawn(page)
    assert page.locator("#forest-chart .scatterlayer .point").count() >= 2
    page.fill("#baseline", "0.05")
    page.click("#size-button")
    assert page.locator("#size-summary").inner_text().strip()
    page.goto(f"{server.url}/console/experiments")
    page.select_option("#example", "experiment_checkout.json")
    page.click("#evaluate-button")
    page.wait_for_selector("#forest-chart[data-drawn]")
    page.screenshot(path=str(SCREENSHOTS / "marketing-experiment.png"), full_page=True)


def test_sequential_monitor_from_uploaded_rows(page, server):
    """A spec without statistics plus per-unit rows (CSV): evaluated on the rows, with the sequential chart."""
    import json

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(5)
    rows = pd.DataFrame({"unit_id": [f"u{i}" for i in range(3000)], "variant": rng.choice(["control", "new"], 3000),
                         "day": rng.integers(1, 8, 3000)})
    rows["conversion"] = (rng.random(3000) < np.where(rows["variant"] == "new", 0.13, 0.10)).astype(int)
    spec = {"name": "banner", "variants": [{"name": "control", "weight": 0.5, "control": True},
                                           {"name": "new", "weight": 0.5}],
            "metrics": [{"name": "conversion", "type": "proportion"}], "settings": {"sequential": True}}
    login(page, server.url, "marketing")
    page.goto(f"{server.url}/console/experiments")
    page.fill("#spec_text", json.dumps(spec))
    page.set_input_files("#raw_file", files=[{"name": "rows.csv", "mimeType": "text/csv",
                                              "buffer": rows.to_csv(index=False).encode()}])
    page.click("#evaluate-button")
    page.wait_for_selector("#sequential-chart")
    charts_drawn(page)
    assert page.locator("#sequential-chart .scatterlayer .trace").count() == 3  # band edges and the lift
    assert page.locator("#comparisons tbody tr").count() == 1


def test_plan_the_example_routes_and_see_them_drawn(page, server):
    login(page, server.url, "logistics")
    page.goto(f"{server.url}/console/logistics")
    page.select_option("#route-example", "routes_request.json")
    page.fill("#time_limit", "2")
    page.click("#plan-button")
    page.wait_for_selector("#route-result", timeout=120_000)
    assert "feasible" in page.locator("#verdict").inner_text()
    charts_drawn(page)
    routes = page.locator("#routes-chart .scatterlayer .trace .js-line")
    assert routes.count() >= 1  # one drawn line per vehicle route
    assert page.locator("table.stops tbody tr").count() >= 1
    page.screenshot(path=str(SCREENSHOTS / "logistics-routes.png"), full_page=True)
    page.click("#allocate-button")
    page.wait_for_selector("#allocation-result", timeout=120_000)
    charts_drawn(page)
    assert page.locator("#flows-chart .scatterlayer .js-line").count() >= 1


def test_a_wrong_key_gets_no_session(page, server):
    login(page, server.url, "not-a-key")
    assert "not a valid API key" in page.locator("#login-problem").inner_text()
    assert not [c for c in page.context.cookies() if c["name"] == COOKIE]
    answer = page.goto(f"{server.url}/console/models")
    assert "/console/login" in page.url and answer.status == 200


def test_an_expired_session_goes_back_to_login(page, server, shop):
    codec = SessionCodec(console_secret(shop.home))
    _, expired = codec.issue("demo-admin", {"admin"}, now=time.time() - 9 * 3600)
    page.context.add_cookies([{"name": COOKIE, "value": expired, "url": f"{server.url}/console/",
                               "httpOnly": True, "sameSite": "Strict"}])
    page.goto(f"{server.url}/console/overview")
    assert "/console/login" in page.url and "expired" in page.locator(".notice").inner_text()


def test_a_forged_form_without_the_csrf_token_is_refused(page, server):
    login(page, server.url, "marketing")
    page.goto(f"{server.url}/console/customers")
    with page.expect_response(lambda r: r.url.endswith("/console/customers/export")) as answer:
        page.evaluate("""() => {
            const form = document.createElement('form');
            form.method = 'post'; form.action = document.body.dataset.prefix + '/customers/export';
            const field = document.createElement('input'); field.name = 'segment'; field.value = 'at_risk';
            form.appendChild(field); document.body.appendChild(form); form.submit();
        }""")
    assert answer.value.status == 403
