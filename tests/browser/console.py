"""A real console for a real browser, shared by the browser tests and the screenshot tooling.

- :func:`serve`: ``plait serve`` in a subprocess on a SQLite file and a free port, its keys made
  as an operator would (the first with the CLI, the others over REST), and workflows set up over
  the REST API, without code: a quick one whose step output can be read, one that asks a person
  (a human task), one that fails, one that sleeps.
- :func:`chrome`: headless Chromium driven by Selenium through the system's ``chromedriver``
  (Debian's ``chromium`` and ``chromium-driver``). Nothing is downloaded: the driver's path is
  given, so Selenium Manager is never asked for one; :class:`BrowserMissing` says why none can run.
- helpers that act as a person does: sign in, wait for an element or a text (WebDriverWait on a
  condition, never a fixed sleep), press a button by its label.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.wait import WebDriverWait

from tests.api.conftest import PLAIT, env_without_plait, free_port, up, wait_until

ORG = "acme"
WAIT = 20.0
"""Seconds a browser step may take before the test fails (live updates take well under one)."""
STARTUP = 120.0
"""Seconds ``plait serve`` may take to listen (a busy CI machine starts Python slowly)."""

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# -- the workflows a console shows, as an operator writes them (REST, no code) --------------------

GREET: dict[str, Any] = {
    "name": "greet-customer",
    "triggerEvent": "Customer.signedUp",
    "description": "Greets a customer and records the greeting",
    "steps": [
        {"id": "greet", "type": "function", "function": "log",
         "input": {"message": "{{ 'Hello ' + input.name }}"}},
        {"id": "record", "type": "function", "function": "Greeting.create", "dependsOn": ["greet"],
         "input": {"customer": "{{ input.name }}", "text": "{{ greet }}"}},
    ],
}  # fmt: skip

SIGN_OFF: dict[str, Any] = {
    "name": "expense-sign-off",
    "triggerEvent": "Expense.submitted",
    "description": "A person approves or rejects an expense",
    "steps": [
        {"id": "approve", "type": "human-task",
         "title": "{{ 'Approve expense ' + input.expense }}", "assignTo": "input.owner",
         "choices": ["approve", "reject"], "timeout": "2d",
         "data": {"expense": "{{ input.expense }}", "amount": "{{ input.amount }}"}},
        {"id": "book", "type": "function", "function": "log", "dependsOn": ["approve"],
         "input": {"message": "{{ 'Decision: ' + approve.decision }}"}},
    ],
}  # fmt: skip

FAILING: dict[str, Any] = {
    "name": "sync-invoice",
    "triggerEvent": "Invoice.sent",
    "description": "Reads an invoice that does not exist: every run fails",
    "steps": [
        {"id": "fetch", "type": "function", "function": "Invoice.get",
         "input": {"$id": "{{ input.invoice }}"}, "retryPolicy": {"maxAttempts": 1}},
    ],
}  # fmt: skip

SLOW: dict[str, Any] = {
    "name": "cool-off",
    "triggerEvent": "Order.placed",
    "description": "Waits an hour before it goes on",
    "steps": [
        {"id": "wait", "type": "sleep", "duration": "1h"},
        {"id": "after", "type": "function", "function": "log", "dependsOn": ["wait"],
         "input": {"message": "cooled off"}},
    ],
}  # fmt: skip

WORKFLOWS = (GREET, SIGN_OFF, FAILING, SLOW)

ENDED = frozenset({"succeeded", "failed", "cancelled"})


@dataclass
class Console:
    """A served console: its address, keys by role, and the admin's REST client."""

    base: str
    keys: dict[str, str]
    api: httpx.Client
    directory: Path
    workflows: dict[str, str] = field(default_factory=dict)  # name -> $id

    def url(self, path: str) -> str:
        return f"{self.base}{path}"

    # -- REST, as another program would ---------------------------------------------------

    def define(self, definition: dict[str, Any], activate: bool = True) -> str:
        made = self.api.post(f"/~{ORG}/workflows", json=definition)
        assert made.status_code == 201, made.text
        workflow_id: str = made.json()["$id"]
        if activate:
            done = self.api.post(f"/~{ORG}/workflows/{workflow_id}/activate")
            assert done.status_code == 200, done.text
        self.workflows[definition["name"]] = workflow_id
        return workflow_id

    def trigger(self, name: str, input: dict[str, Any]) -> str:
        started = self.api.post(f"/~{ORG}/workflows/{self.workflows[name]}/trigger",
                                json={"input": input})  # fmt: skip
        assert started.status_code == 202, started.text
        run_id: str = started.json()["$id"]
        return run_id

    def run(self, run_id: str) -> dict[str, Any]:
        got = self.api.get(f"/~{ORG}/runs/{run_id}")
        assert got.status_code == 200, got.text
        body: dict[str, Any] = got.json()
        return body

    def runs(self, name: str, status: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"workflow": name, "limit": 100}
        if status:
            params["status"] = status
        got = self.api.get(f"/~{ORG}/runs", params=params)
        assert got.status_code == 200, got.text
        items: list[dict[str, Any]] = got.json()["items"]
        return items

    def tasks(self, assignee: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, str | int] = {"status": "open", "limit": 100}
        if assignee:
            params["assignee"] = assignee
        got = self.api.get(f"/~{ORG}/tasks", params=params)
        assert got.status_code == 200, got.text
        items: list[dict[str, Any]] = got.json()["items"]
        return items

    def wait_run(self, run_id: str, *statuses: str) -> dict[str, Any]:
        """The run once its status is one of ``statuses`` (default: any end)."""
        wanted = set(statuses) or ENDED
        seen: dict[str, Any] = {}

        def reached() -> bool:
            seen.update(self.run(run_id))
            return seen["status"] in wanted

        eventually(reached, f"run {run_id} to be {' or '.join(sorted(wanted))}: {seen}")
        return seen

    def log(self) -> str:
        return (self.directory / "serve.log").read_text(errors="replace")


def eventually(check: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Wait until ``check()`` holds (polling the server, as a person refreshing would)."""
    wait_until(check, what, timeout)


def _cli_key(db: str, directory: Path, role: str) -> str:
    made = subprocess.run(
        [*PLAIT, "keys", "create", "--org", ORG, "--role", role, "--json", "--db", db],
        capture_output=True, env=env_without_plait(), cwd=directory, check=True, timeout=60,
    )  # fmt: skip
    key: str = json.loads(made.stdout)["key"]
    return key


@contextmanager
def serve(directory: Path, workflows: tuple[dict[str, Any], ...] = WORKFLOWS) -> Iterator[Console]:
    """``plait serve`` on ``directory/console.db``: an admin key made with the CLI, a runner
    bound to the person ``ann``, an editor and a viewer made over REST, and ``workflows``
    defined and activated."""
    db = f"sqlite:///{directory / 'console.db'}"
    admin = _cli_key(db, directory, "admin")
    port = free_port()
    log = (directory / "serve.log").open("wb")
    child = subprocess.Popen(
        [*PLAIT, "serve", "--port", str(port), "--db", db],
        stdout=log, stderr=subprocess.STDOUT, env=env_without_plait(), cwd=directory,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    try:
        try:
            eventually(lambda: up(base) or child.poll() is not None, "plait serve", STARTUP)
        except AssertionError:
            raise RuntimeError(
                "plait serve did not listen: "
                + (directory / "serve.log").read_text(errors="replace")
            ) from None
        if child.poll() is not None:
            raise RuntimeError("plait serve stopped: "
                               + (directory / "serve.log").read_text(errors="replace"))  # fmt: skip
        keys = {"admin": admin}
        for role, user in (("runner", "ann"), ("editor", None), ("viewer", None)):
            made = api.post(f"/~{ORG}/keys", json={"role": role, "user": user})
            assert made.status_code == 201, made.text
            keys[role] = made.json()["key"]
        console = Console(base, keys, api, directory)
        for definition in workflows:
            console.define(definition)
        yield console
    finally:
        api.close()
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait(timeout=30)
        log.close()


# -- the browser --------------------------------------------------------------------------------


class BrowserMissing(Exception):
    """No Chromium and chromedriver to drive here (the message says what is missing)."""


def chrome(width: int = 1280, height: int = 900) -> WebDriver:
    """Headless Chromium through the system's chromedriver, or :class:`BrowserMissing`."""
    driver_path = shutil.which("chromedriver")
    browser = next((found for name in BROWSERS if (found := shutil.which(name))), None)
    if driver_path is None or browser is None:
        missing = " and ".join(
            what for what, path in (("chromium", browser), ("chromedriver", driver_path))
            if path is None
        )  # fmt: skip
        raise BrowserMissing(f"no {missing} on PATH: install the Debian packages chromium and "
                             "chromium-driver (.ci/run does) to run the browser tests")  # fmt: skip
    os.environ.setdefault("SE_OFFLINE", "true")  # Selenium Manager must not fetch anything
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--no-first-run", "--disable-extensions",
                     f"--window-size={width},{height}", "--lang=en-US"):  # fmt: skip
        options.add_argument(argument)
    try:
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    except WebDriverException as exc:
        raise BrowserMissing(f"{browser} could not be started by {driver_path}: "
                             f"{exc.msg or exc}".strip()) from exc  # fmt: skip
    driver.set_page_load_timeout(WAIT * 2)
    return driver


def waiter(driver: WebDriver, timeout: float = WAIT) -> WebDriverWait[WebDriver]:
    return WebDriverWait(driver, timeout, poll_frequency=0.05,
                         ignored_exceptions=(NoSuchElementException,
                                             StaleElementReferenceException))  # fmt: skip


def wait_for(driver: WebDriver, css: str, what: str | None = None,
             timeout: float = WAIT) -> WebElement:  # fmt: skip
    """The first element matching ``css`` once one is displayed."""

    def shown(d: WebDriver) -> WebElement | None:
        return next((e for e in d.find_elements(By.CSS_SELECTOR, css) if e.is_displayed()), None)

    found = waiter(driver, timeout).until(shown, f"no {what or css} shown on {driver.current_url}")
    assert isinstance(found, WebElement)
    return found


def wait_text(driver: WebDriver, text: str, css: str = "main", timeout: float = WAIT) -> None:
    """Wait until ``text`` is shown inside the element ``css`` (default: the page's main)."""

    def has(d: WebDriver) -> bool:
        return any(text in e.text for e in d.find_elements(By.CSS_SELECTOR, css))

    waiter(driver, timeout).until(has, f"{text!r} never shown in {css} of {driver.current_url}")


def wait_url(driver: WebDriver, check: Callable[[str], bool], what: str) -> str:
    waiter(driver).until(lambda d: check(d.current_url), f"never at {what}")
    return driver.current_url


def click(driver: WebDriver, css: str, what: str) -> None:
    """Click the element ``css`` once shown (found again if a live refresh replaced it)."""

    def clicked(d: WebDriver) -> bool:
        try:
            wait_for(d, css, what, timeout=1.0).click()
        except (StaleElementReferenceException, TimeoutException):
            return False
        return True

    waiter(driver).until(clicked, f"could not click {what} on {driver.current_url}")


def button(root: WebDriver | WebElement, label: str) -> WebElement | None:
    """The shown button (or submit input) whose text or aria-label is ``label`` (any case)."""
    wanted = label.strip().lower()
    for element in root.find_elements(By.CSS_SELECTOR,
                                      "button, input[type=submit], [role=button]"):  # fmt: skip
        with suppress(StaleElementReferenceException):
            text = (element.text or element.get_attribute("value") or "").strip().lower()
            aria = (element.get_attribute("aria-label") or "").strip().lower()
            if element.is_displayed() and wanted in (text, aria):
                return element
    return None


def press(driver: WebDriver, label: str, root: WebElement | None = None,
          confirm: bool = True) -> None:  # fmt: skip
    """Press the button labelled ``label`` (accepting its confirmation dialog, if it asks)."""
    found = waiter(driver).until(lambda d: button(root or d, label),
                                 f"no button {label!r} on {driver.current_url}")  # fmt: skip
    assert isinstance(found, WebElement)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", found)
    found.click()
    if confirm:
        with suppress(Exception):
            alert = WebDriverWait(driver, 0.5).until(lambda d: d.switch_to.alert)
            alert.accept()


def sign_in(driver: WebDriver, console: Console, role: str, next: str = "/") -> None:
    """Sign in with the key of ``role`` through the sign-in form, as a person does."""
    driver.delete_all_cookies()
    driver.get(console.url(f"/login?next={quote(next, safe='')}"))
    field_ = wait_for(driver, "input#key", "the API key field")
    field_.clear()
    field_.send_keys(console.keys[role])
    press(driver, "Sign in", confirm=False)
    wait_url(driver, lambda url: "/login" not in url, "a page after signing in")
    wait_for(driver, "header.top", "the signed-in header")


def sign_out(driver: WebDriver) -> None:
    press(driver, "Sign out", confirm=False)
    wait_url(driver, lambda url: "/login" in url, "the sign-in page")
