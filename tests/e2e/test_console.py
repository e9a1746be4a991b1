"""The operator console in headless Chromium, against the local stack, clicked through as an operator would.

Screenshots go to ``tests/e2e/screenshots/`` (not committed); ``docs/console.png`` is one of them.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select

from chalicelib.local.process import StackProcess
from tests.e2e.conftest import ensure_chromium

SHOTS = Path(__file__).resolve().parent / "screenshots"
WAIT_SECONDS = 60


@pytest.fixture(scope="module")
def downloads(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("downloads")


@pytest.fixture(scope="module")
def browser(downloads: Path) -> Iterator[WebDriver]:
    chromium, chromedriver = ensure_chromium()
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(argument)
    options.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    SHOTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(check: Callable[[], Any], what: str, seconds: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = check()
            if value:
                return value
        except (StaleElementReferenceException, WebDriverException) as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f" ({last})" if last else ""))


def visible(driver: WebDriver, css: str) -> WebElement | None:
    found = [element for element in driver.find_elements(By.CSS_SELECTOR, css) if element.is_displayed()]
    return found[0] if found else None


def fill(driver: WebDriver, values: dict[str, str]) -> None:
    for element_id, value in values.items():
        element = wait_for(lambda element_id=element_id: visible(driver, f"#{element_id}"), element_id)
        if element.tag_name == "select":
            Select(element).select_by_value(value)
        else:
            element.clear()
            element.send_keys(value)


def submit(driver: WebDriver, form_id: str) -> None:
    wait_for(lambda: visible(driver, f"#{form_id} button[type=submit]"), form_id).click()


def click(driver: WebDriver, css: str, what: str) -> None:
    """Click the first visible match, again if the page redrew it meanwhile (lists refresh on a timer)."""
    wait_for(lambda: (element := visible(driver, css)) is not None and (element.click() or True), what)


def toast(driver: WebDriver, contains: str) -> str:
    return str(
        wait_for(
            lambda: (t := visible(driver, "#toast")) and contains in t.text and t.text, f"a toast with {contains!r}"
        )
    )


def go(driver: WebDriver, page: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'nav a[data-page="{page}"]').click()
    wait_for(lambda: visible(driver, f"#page-{page} h1"), f"the {page} page")


def test_an_operator_clicks_through_the_console(browser: WebDriver, stack: StackProcess, downloads: Path) -> None:
    driver = browser
    page = requests.get(stack.base_url + "/console", timeout=10)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"] and "<script>" not in page.text

    # Sign in with the admin key: it lives in sessionStorage only.
    driver.get(stack.base_url + "/console")
    fill(driver, {"api-key": stack.admin_token})
    driver.find_element(By.ID, "sign-in-button").click()
    wait_for(lambda: "(admin)" in driver.find_element(By.ID, "who").text, "the signed-in admin")
    assert driver.execute_script("return sessionStorage.getItem('valhalla.apiKey')") == stack.admin_token
    assert driver.execute_script("return document.cookie") == "" and stack.admin_token not in driver.current_url
    wait_for(lambda: visible(driver, "#delivery-chart svg"), "the deliveries chart")

    # Read-only: the banner shows and a write is refused.
    fill(driver, {"mode-select": "read_only", "mode-reason": "browser test"})
    submit(driver, "mode-form")
    banner = wait_for(lambda: visible(driver, "#banner"), "the read-only banner")
    assert "read-only" in banner.text and "browser test" in banner.text
    go(driver, "channels")
    fill(driver, {"channel-name": "refused-channel", "channel-type": "email", "channel-target": "no@example.com"})
    submit(driver, "channel-form")
    refused = toast(driver, "503")
    assert "read-only" in refused
    driver.save_screenshot(str(SHOTS / "read-only.png"))

    # Back to normal.
    go(driver, "overview")
    fill(driver, {"mode-select": "normal"})
    submit(driver, "mode-form")
    wait_for(lambda: not visible(driver, "#banner"), "the banner to go")

    # A channel, and a notification that is sent.
    go(driver, "channels")
    fill(driver, {"channel-name": "browser-email", "channel-type": "email", "channel-target": "ops@example.com"})
    fill(driver, {"channel-rate": "5"})
    submit(driver, "channel-form")
    created = toast(driver, "created")
    channel_id = created.split()[1]
    # Its health and rate limit, in the list and the detail; the admin lifts the limit.
    badge = f'span.badge[data-channel="{channel_id}"]'
    wait_for(lambda: (element := visible(driver, badge)) and element.text == "healthy", "the health badge")
    click(driver, badge, "the channel's row")
    wait_for(
        lambda: (shown := visible(driver, "#channel-detail")) and "5 / s" in shown.text and "0.0 % of 0" in shown.text,
        "the channel's health and rate limit",
    )
    driver.save_screenshot(str(SHOTS / "channels.png"))
    fill(driver, {"edit-channel-rate": ""})
    submit(driver, "channel-rate-form")
    toast(driver, "rate limit: unlimited")
    go(driver, "notifications")
    fill(driver, {"send-channel": channel_id, "send-subject": "Hello from the console", "send-body": "It works"})
    submit(driver, "send-form")
    notification_id = toast(driver, "is pending").split()[1]
    row_status = '#page-notifications tbody tr td[data-status="sent"]'
    wait_for(
        lambda: any(
            cell.find_element(By.XPATH, "..").text.startswith(notification_id + " ")
            for cell in driver.find_elements(By.CSS_SELECTOR, row_status)
        ),
        "the notification sent",
    )

    # A dry-run replay of the channel's failures: there are none, and the run says so.
    fill(driver, {"replay-channel": channel_id, "replay-dry-run": "yes"})
    submit(driver, "replay-form")
    replay_id = toast(driver, "started (dry run)").split()[1]
    counts = f'.replay-counts[data-replay="{replay_id}"]'
    wait_for(
        lambda: (
            (cell := visible(driver, counts))
            and "completed" in cell.find_element(By.XPATH, "..").text
            and cell.text.startswith("0 / 0 / 0")
        ),
        "the replay completed, nothing matched",
    )

    # Events: subscribe the channel, send a test event, find it in the log, resend it.
    go(driver, "events")
    fill(driver, {"sub-name": "browser-sub", "sub-channels": channel_id, "sub-types": "maintenance.*"})
    submit(driver, "sub-form")
    subscription_id = toast(driver, "created").split()[1]
    click(driver, f'button.send-test[data-sub="{subscription_id}"]', "the subscription's test button")
    event_id = toast(driver, "Test event").split()[2]
    in_log = f'#event-log button.resend[data-event="{event_id}"]'
    click(driver, in_log, "the test event in the log")
    assert "resent: 1 notification" in toast(driver, "resent")
    click(driver, f'button.edit-sub[data-sub="{subscription_id}"]', "the edit button")
    fill(driver, {"edit-sub-types": "maintenance.changed, export.*"})
    submit(driver, "edit-sub-form")
    toast(driver, "saved")
    wait_for(lambda: "export.*" in driver.find_element(By.ID, "subscriptions").text, "the edited subscription")
    filter_and_event = {
        "test-filter": '{"data.mode": {"$in": ["read_only", "maintenance"]}}',
        "test-event": '{"id": "evt_1", "type": "maintenance.changed", "data": {"mode": "read_only"}}',
    }
    fill(driver, filter_and_event)
    submit(driver, "filter-test-form")
    wait_for(lambda: "does not" not in (v := driver.find_element(By.ID, "filter-verdict").text) and v, "the verdict")
    driver.save_screenshot(str(SHOTS / "events.png"))

    # An export whose progress reaches 100 %, then downloaded.
    go(driver, "exports")
    fill(driver, {"export-type": "audit_log_export", "export-format": "jsonl"})
    submit(driver, "export-form")
    job_id = toast(driver, "started").split()[1]
    label = f'.progress-label[data-job="{job_id}"]'
    wait_for(lambda: (element := visible(driver, label)) and element.text == "100 %", "the export at 100 %")
    driver.save_screenshot(str(SHOTS / "exports.png"))
    visible(driver, f'button.download[data-job="{job_id}"]').click()
    saved = wait_for(lambda: [path for path in downloads.glob("*.gz")], "the downloaded file")
    rows = [json.loads(line) for line in gzip.decompress(saved[0].read_bytes()).splitlines()]
    assert any(row["action"] == "channel.create" for row in rows)

    go(driver, "overview")
    # Sent: the notification, the test event and its resend (an export.completed may follow).
    wait_for(
        lambda: (cell := visible(driver, "#sent-failed")) and int(cell.text.split(" /")[0]) >= 3,
        "the overview's figures",
    )
    wait_for(lambda: not visible(driver, "#toast"), "the last message to fade")
    driver.save_screenshot(str(SHOTS / "overview.png"))
