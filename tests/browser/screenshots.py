"""Screenshots of the console for the docs, made by the browser tests' tooling:

    python -m tests.browser.screenshots [--out docs/images]

A demo organization on a real ``plait serve`` (workflows of an online shop, runs started by
events and by hand that succeeded, failed, wait on a person or a timer, one cancelled), then
headless Chromium captures the main pages at a desktop size in the light and the dark theme
(``prefers-color-scheme`` emulated through the DevTools protocol), and the inbox at a phone's
size: ``console-<page>-<theme>.png`` and ``console-inbox-phone-<theme>.png``.
Not part of the test run (it takes a minute); it skips nothing silently: without a browser it
exits with the reason.
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
from pathlib import Path
from typing import Any

from selenium.webdriver.chrome.webdriver import WebDriver

from tests.browser.console import (
    FAILING,
    GREET,
    ORG,
    SIGN_OFF,
    SLOW,
    BrowserMissing,
    Console,
    chrome,
    eventually,
    serve,
    sign_in,
    wait_for,
)

DESKTOP = (1440, 900)
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
THEMES = ("light", "dark")
TALLEST = 2400

ONBOARDING: dict[str, Any] = {
    "name": "customer-onboarding",
    "description": "Welcomes a new customer, opens their account and books a kick-off call",
    "triggerEvent": "Customer.created",
    "steps": [
        {"id": "welcome", "type": "function", "function": "log",
         "input": {"message": "{{ 'Welcome ' + input.name }}"}},
        {"type": "parallel", "id": "setup", "dependsOn": ["welcome"], "steps": [
            {"id": "account", "type": "function", "function": "Account.create",
             "input": {"owner": "{{ input.name }}", "plan": "{{ input.plan }}"}},
            {"id": "crm", "type": "function", "function": "Contact.create",
             "input": {"name": "{{ input.name }}", "email": "{{ input.email }}"}},
        ]},
        {"id": "kick-off", "type": "function", "function": "Meeting.create",
         "dependsOn": ["setup"], "input": {"with": "{{ input.name }}", "length": 30}},
    ],
}  # fmt: skip

REFUND: dict[str, Any] = {
    "name": "refund-request",
    "description": "A refund above 100 needs a person's approval",
    "triggerEvent": "Refund.requested",
    "steps": [
        {"id": "review", "type": "human-task", "title": "{{ 'Refund ' + input.order }}",
         "description": "Check the order and the customer's history", "assignTo": "input.owner",
         "choices": ["approve", "reject"], "timeout": "1d",
         "data": {"order": "{{ input.order }}", "amount": "{{ input.amount }}"}},
        {"id": "pay-back", "type": "function", "function": "Refund.create", "dependsOn": ["review"],
         "input": {"order": "{{ input.order }}", "decision": "{{ review.decision }}"}},
    ],
}  # fmt: skip

DEMO = (
    ONBOARDING,
    REFUND,
    GREET,
    SIGN_OFF,
    FAILING | {"description": "Copies each invoice sent to the accounting system"},
    SLOW | {"description": "Waits an hour after an order before it asks for a review"},
)
PEOPLE = ("Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Edsger Dijkstra",
          "Barbara Liskov", "Radia Perlman", "Margaret Hamilton")  # fmt: skip


def populate(console: Console) -> dict[str, str]:
    """Runs of every kind; returns the ids of the pages to capture."""
    for n, person in enumerate(PEOPLE):
        email = person.lower().replace(" ", ".") + "@example.com"
        sent = console.api.post(f"/~{ORG}/events", json={
            "type": "Customer.created",
            "data": {"name": person, "email": email, "plan": ("pro", "team")[n % 2]},
        })  # fmt: skip
        assert sent.status_code == 202, sent.text
        console.trigger("greet-customer", {"name": person})
    for n, (order, amount, owner) in enumerate((("ORD-1042", 240, "ann"), ("ORD-1051", 180, "ann"),
                                                ("ORD-1066", 560, "bob"))):  # fmt: skip
        sent = console.api.post(f"/~{ORG}/events", json={
            "type": "Refund.requested", "id": f"refund-{n}",
            "data": {"order": order, "amount": amount, "owner": owner},
        })  # fmt: skip
        assert sent.status_code == 202, sent.text
    console.trigger("expense-sign-off", {"expense": "EXP-311", "amount": 86, "owner": "ann"})
    for n in range(3):
        console.trigger("sync-invoice", {"invoice": f"invoice_2027_{n:03d}"})
    sleeper = console.trigger("cool-off", {"order": "ORD-1070"})
    console.trigger("cool-off", {"order": "ORD-1071"})
    console.wait_run(sleeper, "waiting")
    console.api.post(f"/~{ORG}/runs/{sleeper}/cancel", json={"reason": "order withdrawn"})

    def settled() -> bool:
        runs = console.api.get(f"/~{ORG}/runs", params={"limit": 100}).json()["items"]
        return all(r["status"] not in ("pending", "running") for r in runs)

    eventually(settled, "the demo runs to settle", timeout=60)
    onboarding = console.runs("customer-onboarding", "succeeded")[0]["$id"]
    tasks = console.tasks("ann")
    done = console.api.post(f"/~{ORG}/tasks/{tasks[-1]['$id']}/complete",
                            json={"decision": "approve", "comment": "ok", "by": "ann"})  # fmt: skip
    assert done.status_code == 200, done.text
    eventually(settled, "the approved run to end", timeout=60)
    return {"run": onboarding, "workflow": console.workflows["customer-onboarding"]}


def theme(driver: WebDriver, name: str) -> None:
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {
        "features": [{"name": "prefers-color-scheme", "value": name}],
    })  # fmt: skip


def capture(driver: WebDriver, console: Console, path: str, out: Path, name: str,
            phone: bool = False) -> list[Path]:  # fmt: skip
    """The page at ``path`` in each theme: the whole page (up to ``TALLEST`` pixels) at a
    desktop size, or the first screen at a phone's size."""
    made = []
    if phone:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    else:
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
        driver.set_window_size(*DESKTOP)
    for shade in THEMES:
        theme(driver, shade)
        driver.get(console.url(path))
        wait_for(driver, "main", "the page")
        file = out / f"console-{name}-{shade}.png"
        if phone:
            assert driver.save_screenshot(str(file)), f"no screenshot of {path}"
        else:
            size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
            clip = {"x": 0, "y": 0, "width": DESKTOP[0], "scale": 1,
                    "height": min(max(size["height"], DESKTOP[1] - 130), TALLEST)}  # fmt: skip
            shot = driver.execute_cdp_cmd("Page.captureScreenshot", {
                "format": "png", "captureBeyondViewport": True, "clip": clip,
            })  # fmt: skip
            file.write_bytes(base64.b64decode(shot["data"]))
        made.append(file)
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        driver = chrome(*DESKTOP)
    except BrowserMissing as exc:
        print(f"no screenshots: {exc}", file=sys.stderr)
        return 2
    try:
        with tempfile.TemporaryDirectory() as directory, serve(Path(directory), DEMO) as console:
            made = console.api.post(f"/~{ORG}/keys", json={"role": "admin", "user": "ann"})
            console.keys["ann"] = made.json()["key"]
            ids = populate(console)
            sign_in(driver, console, "ann")
            pages = {"overview": "/", "runs": "/runs", "run": f"/runs/{ids['run']}",
                     "workflow": f"/workflows/{ids['workflow']}", "workflows": "/workflows",
                     "inbox": "/inbox", "events": "/events"}  # fmt: skip
            files: list[Path] = []
            for name, path in pages.items():
                files += capture(driver, console, path, args.out, name)
            files += capture(driver, console, "/inbox", args.out, "inbox-phone", phone=True)
    finally:
        driver.quit()
    for file in files:
        print(file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
