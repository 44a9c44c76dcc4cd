"""The console in a real browser (headless Chromium): what a person does every day, on a real
``plait serve``, with the state checked over REST as another program would see it.

Sign in; see a run appear live on the runs page and open it; read a step's output; complete a
task from the inbox and watch the run succeed; cancel a run; retry failed runs in bulk; be
refused as a viewer (no button shown, a forged form answered 403); see the system's theme until
picking one; sign out."""

from __future__ import annotations

import re

import pytest
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement

from tests.browser.console import (
    Console,
    button,
    click,
    eventually,
    press,
    sign_in,
    sign_out,
    wait_for,
    wait_text,
    wait_url,
    waiter,
)

# The first test also waits for the server and the browser to start (slow on a busy CI machine).
pytestmark = [pytest.mark.xdist_group("browser"), pytest.mark.timeout(300)]

MARK = "window.plaitSamePage = true;"
SAME_PAGE = "return window.plaitSamePage === true;"
"""A mark left on the page: still there means the page changed without being reloaded."""


def run_link(driver: WebDriver, run_id: str) -> WebElement:
    return wait_for(driver, f'main a[href="/runs/{run_id}"]', f"a link to run {run_id}")


RUN_STATUS = ".run-head h1"
"""Where the run page shows the run's status (not a step's)."""


def offered(driver: WebDriver) -> list[str]:
    """The labels of the buttons of the forms that would change something on this page."""
    return [b.text for b in driver.find_elements(By.CSS_SELECTOR, "main form[method=post] button,"
                                                 " main form[method=post] [type=submit]")
            if b.is_displayed()]  # fmt: skip


def test_sign_in_with_an_api_key(driver: WebDriver, console: Console) -> None:
    driver.get(console.url("/workflows"))  # a deep link, kept through signing in
    wait_url(driver, lambda url: "/login?next=%2Fworkflows" in url, "the sign-in form")
    field = wait_for(driver, "input#key", "the API key field")
    assert driver.find_element(By.CSS_SELECTOR, "label[for=key]").text == "API key"
    field.send_keys("plait_notakey_0000000000")
    press(driver, "Sign in", confirm=False)
    wait_text(driver, "not valid", "[role=alert]")

    sign_in(driver, console, "admin", next="/workflows")
    assert driver.current_url == console.url("/workflows")
    header = driver.find_element(By.CSS_SELECTOR, "header.top").text
    assert "acme" in header and "admin" in header
    sections = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "header nav a")]
    assert {"Overview", "Workflows", "Runs", "Inbox", "Keys"} <= set(sections)
    cookie = driver.get_cookie("plait_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert console.keys["admin"] not in cookie["value"]


def test_a_run_appears_live_opens_and_shows_its_step_output(
    driver: WebDriver, console: Console
) -> None:
    sign_in(driver, console, "runner", next="/runs?workflow=greet-customer")
    wait_for(driver, "main table, main .empty", "the runs table or its empty state")
    driver.execute_script(MARK)

    run_id = console.trigger("greet-customer", {"name": "Ada Lovelace"})
    run_link(driver, run_id)  # the row arrived by itself
    assert driver.execute_script(SAME_PAGE), "the runs page was reloaded to show the run"
    console.wait_run(run_id, "succeeded")

    click(driver, f'main a[href="/runs/{run_id}"]', f"the link to {run_id}")
    wait_url(driver, lambda url: url.endswith(f"/runs/{run_id}"), f"the page of {run_id}")
    wait_text(driver, "succeeded", RUN_STATUS)
    step = waiter(driver).until(
        lambda d: d.find_element(By.XPATH, "//table[@id='steps']//tr[td/code[text()='greet']]"),
        "the greet step's row",
    )  # fmt: skip
    assert "Hello Ada Lovelace" not in step.text  # its output is folded away...
    output = step.find_element(By.CSS_SELECTOR, "details > summary")
    assert output.text.startswith("Output")
    output.click()  # ...until asked for
    waiter(driver).until(lambda d: "Hello Ada Lovelace" in step.text, "the greet step's output")


def test_complete_a_task_from_the_inbox_and_watch_the_run_succeed(
    driver: WebDriver, console: Console
) -> None:
    run_id = console.trigger("expense-sign-off",
                             {"expense": "EXP-7", "amount": 120, "owner": "ann"})  # fmt: skip
    console.wait_run(run_id, "waiting")
    eventually(lambda: any(t["runId"] == run_id for t in console.tasks("ann")), "ann's task")
    [task_id] = [t["$id"] for t in console.tasks("ann") if t["runId"] == run_id]

    sign_in(driver, console, "runner", next=f"/runs/{run_id}")  # the runner key is ann's
    wait_text(driver, "waiting", RUN_STATUS)
    driver.execute_script(MARK)
    run_page = driver.current_window_handle

    driver.switch_to.new_window("tab")
    driver.get(console.url("/inbox"))
    task = wait_for(driver, f"article#task-{task_id}", "the task in ann's inbox")
    assert "Approve expense EXP-7" in task.text and "120" in task.text  # with its data
    press(driver, "Approve", root=task)
    wait_text(driver, "Completed")  # the inbox says so, and links the run
    eventually(lambda: not any(t["runId"] == run_id for t in console.tasks()), "the task done")
    console.wait_run(run_id, "succeeded")
    done = console.api.get(f"/~acme/tasks/{task_id}").json()
    assert (done["status"], done["decision"], done["completedBy"]) == (
        "completed",
        "approve",
        "ann",
    )

    driver.switch_to.window(run_page)
    wait_text(driver, "succeeded", RUN_STATUS)  # the run page moved by itself
    assert driver.execute_script(SAME_PAGE), "the run page was reloaded to show the change"
    assert console.run(run_id)["outcome"] == "succeeded"


def test_cancel_a_run(driver: WebDriver, console: Console) -> None:
    run_id = console.trigger("cool-off", {"order": "A-1"})
    console.wait_run(run_id, "waiting")

    sign_in(driver, console, "runner", next=f"/runs/{run_id}")
    wait_text(driver, "waiting", RUN_STATUS)
    press(driver, "Cancel the run")  # and accept its confirmation
    wait_text(driver, "cancelled", RUN_STATUS)
    assert console.run(run_id)["status"] == "cancelled"


def test_bulk_retry_of_failed_runs(driver: WebDriver, console: Console) -> None:
    failed = [console.trigger("sync-invoice", {"invoice": f"invoice_missing{n}"})
              for n in range(3)]  # fmt: skip
    for run_id in failed:
        console.wait_run(run_id, "failed")
    before = {run["$id"] for run in console.runs("sync-invoice")}

    sign_in(driver, console, "runner", next="/runs?workflow=sync-invoice&status=failed")
    for run_id in failed:
        run_link(driver, run_id)
        box = wait_for(driver, f'main input[type=checkbox][value="{run_id}"]', f"{run_id}'s box")
        if not box.is_selected():
            box.click()
    press(driver, "Retry selected")

    def retried() -> bool:
        return len({run["$id"] for run in console.runs("sync-invoice")} - before) == len(failed)

    eventually(retried, "a new run for each failed run retried")
    again = [run for run in console.runs("sync-invoice") if run["$id"] not in before]
    for run in again:  # they ran again, and failed again (the invoice still does not exist)
        assert console.wait_run(run["$id"], "failed")["input"]["invoice"].startswith("invoice_")
    assert {run["input"]["invoice"] for run in again} == {f"invoice_missing{n}" for n in range(3)}
    notice = wait_for(driver, "#runs-notice", "what the bulk retry did")
    assert "retr" in notice.text.lower(), notice.text


def test_a_viewer_sees_no_buttons_and_a_forged_form_is_refused(
    driver: WebDriver, console: Console
) -> None:
    run_id = console.trigger("cool-off", {"order": "V-1"})
    console.wait_run(run_id, "waiting")

    sign_in(driver, console, "runner", next=f"/runs/{run_id}")
    cancel = waiter(driver).until(lambda d: button(d, "Cancel the run"), "the Cancel button")
    assert isinstance(cancel, WebElement)
    action = cancel.find_element(By.XPATH, "./ancestor::form").get_attribute("action")
    assert action

    sign_in(driver, console, "viewer", next=f"/runs/{run_id}")
    wait_text(driver, "waiting", RUN_STATUS)
    assert not offered(driver), "a viewer is offered a change on the run page"

    csrf = driver.find_element(By.CSS_SELECTOR, 'meta[name="csrf-token"]').get_attribute("content")
    status = driver.execute_async_script(
        """const [action, csrf, done] = arguments;
        fetch(action, {method: "POST", credentials: "same-origin", redirect: "manual",
                       headers: {"Content-Type": "application/x-www-form-urlencoded"},
                       body: new URLSearchParams({csrf: csrf})})
          .then(r => done(r.status), e => done(String(e)));""",
        action, csrf,
    )  # fmt: skip
    assert status == 403
    assert console.run(run_id)["status"] == "waiting"

    driver.get(console.url("/runs?status=failed"))
    wait_for(driver, "main table, main .empty", "the runs table")
    assert not offered(driver), "a viewer is offered a change on the runs page"


def shows_background(driver: WebDriver, shade: str, what: str) -> None:
    """Wait until the page's background is ``dark`` or ``light`` (by its lightness)."""

    def shown(d: WebDriver) -> bool:
        color = d.execute_script("return getComputedStyle(document.body).backgroundColor")
        r, g, b = (int(n) for n in re.findall(r"\d+", color)[:3])
        lightness = (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255
        return lightness < 0.3 if shade == "dark" else lightness > 0.7

    waiter(driver).until(shown, f"never showed {what}")


def test_themes_follow_the_system_until_the_person_picks_one(
    driver: WebDriver, console: Console
) -> None:
    sign_in(driver, console, "viewer", next="/")
    try:
        for scheme in ("dark", "light"):
            driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
                "features": [{"name": "prefers-color-scheme", "value": scheme}]})  # fmt: skip
            driver.refresh()
            shows_background(driver, scheme, f"the {scheme} theme")
        press(driver, "Switch between light and dark theme", confirm=False)  # the system's: light
        shows_background(driver, "dark", "the dark theme picked")
        driver.refresh()  # the choice is kept
        shows_background(driver, "dark", "the dark theme kept")
    finally:
        driver.execute_script("localStorage.removeItem('plait-theme');")
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": []})


def test_sign_out(driver: WebDriver, console: Console) -> None:
    sign_in(driver, console, "viewer", next="/")
    sign_out(driver)
    wait_for(driver, "input#key", "the sign-in form")
    assert driver.get_cookie("plait_session") is None
    for path in ("/", "/workflows", "/runs", "/inbox"):
        driver.get(console.url(path))
        wait_url(driver, lambda url: "/login" in url, f"the sign-in form instead of {path}")
