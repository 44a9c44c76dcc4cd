"""The console's Workflows pages (both backends): the list with stored and code workflows and
their counters, a definition drawn as a graph, versions and their diff, the lifecycle buttons
(and a viewer refused them), triggering with an input form, the editor's live validation, and
creating a workflow through the form."""

from __future__ import annotations

import re
from typing import Any

import orjson

from plait import Context, Engine
from tests.console.conftest import BrowserFactory

ORDER: dict[str, Any] = {
    "name": "order-flow",
    "description": "Ship an order",
    "triggerEvent": "Order.placed",
    "inputSchema": {
        "type": "object",
        "required": ["orderId", "amount"],
        "properties": {"orderId": {"type": "string"}, "amount": {"type": "number"}},
    },
    "steps": [
        {"id": "validate", "type": "function", "function": "log",
         "input": {"message": "{{ input.orderId }}"}},
        {"id": "prepare", "type": "parallel", "dependsOn": ["validate"], "steps": [
            {"id": "pack", "function": "log", "input": {"message": "pack"}},
            {"id": "label", "function": "log", "input": {"message": "label"}}]},
        {"id": "big", "type": "condition", "dependsOn": ["prepare"],
         "condition": "input.amount > 100",
         "then": [{"id": "review", "function": "log", "input": {"message": "review"}}],
         "else": [{"id": "ship", "function": "log", "input": {"message": "ship"}}]},
    ],
}  # fmt: skip


def svg_of(html: str) -> str:
    found = re.search(r"<svg class=\"workflow-graph\".*?</svg>", html, re.S)
    assert found, html
    return found.group(0)


def problems_of(html: str) -> list[str]:
    """The JSON paths of the problems a page lists (``data-path`` of each)."""
    listing = re.search(r'<ul class="problems"[^>]*>(.*?)</ul>', html, re.S)
    return re.findall(r'data-path="([^"]+)"', listing.group(1)) if listing else []


async def test_the_list_shows_stored_and_code_workflows_with_their_counters(
    engine: Engine, browser: BrowserFactory
) -> None:
    @engine.workflow("nightly-report")
    async def nightly_report(ctx: Context) -> str:
        return "done"

    editor = await browser("default", "editor")  # code workflows are shown in ``default``
    await engine.catalog.mirror(await engine.deps.store(), engine.clock.time())
    created = await engine.workflows.create("default", ORDER)
    await engine.workflows.activate("default", created.id)
    run = await engine.workflows.trigger("default", created.id, {"orderId": "o-1", "amount": 5})
    async with engine:
        await run_ended(engine, "default", run.id)

    listing = await editor.get("/workflows")
    assert listing.status_code == 200
    row = re.search(r'<tr data-href="/workflows/[^"]+" data-workflow="order-flow">(.*?)</tr>',
                    listing.text, re.S)  # fmt: skip
    assert row, listing.text
    cells = [re.sub(r"<[^>]+>", "", c).strip()
             for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]  # fmt: skip
    assert cells[0].startswith("order-flow")
    assert cells[1:4] == ["definition", "activated", "1"]
    assert "Order.placed" in cells[4]
    assert cells[5:8] == ["1", "1", "0"]
    assert "<time" in row.group(1)  # the last run
    assert 'data-workflow="nightly-report"' in listing.text
    assert ">code</td>" in listing.text
    assert 'href="/workflows/new"' in listing.text

    code = await editor.get("/workflows/nightly-report")
    assert code.status_code == 200
    assert "A code workflow, registered in Python" in code.text
    assert 'id="source-text"' not in code.text and 'id="edit"' not in code.text
    searched = await editor.get("/workflows?q=NIGHTLY")
    assert 'data-workflow="nightly-report"' in searched.text
    assert 'data-workflow="order-flow"' not in searched.text
    paused = await editor.get("/workflows?status=Paused")
    assert "No workflow matches these filters" in paused.text


async def run_ended(engine: Engine, org: str, run_id: str) -> None:
    from plait.testing import assert_eventually

    async def ended() -> bool:
        return (await engine.runs.get(org, run_id)).status in ("succeeded", "failed")

    await assert_eventually(ended, timeout=20)


async def test_an_empty_organization_says_how_to_create_a_workflow(
    browser: BrowserFactory,
) -> None:
    viewer = await browser("acme", "viewer")
    page = await viewer.get("/workflows")
    assert "No workflows yet" in page.text
    assert "plait workflows create" in page.text
    assert 'href="/workflows/new"' not in page.text  # a viewer is not offered it


async def test_a_definition_is_drawn_with_its_steps_parallel_group_and_conditions(
    engine: Engine, browser: BrowserFactory
) -> None:
    created = await engine.workflows.create("acme", ORDER)
    viewer = await browser("acme", "viewer")
    page = await viewer.get(f"/workflows/{created.name}")
    assert page.status_code == 200
    drawing = svg_of(page.text)
    for step in ("validate", "prepare", "pack", "label", "big", "review", "ship"):
        assert f">{step}</text>" in drawing or f" {step}</text>" in drawing, step
    assert "parallel (all)" in drawing
    assert "if input.amount &gt; 100" in drawing  # the branch's edge, escaped
    assert ">else<" in drawing
    assert "&#34;orderId&#34;" in page.text or "&quot;orderId&quot;" in page.text  # the source
    yaml_page = await viewer.get(f"/workflows/{created.id}?format=yaml")
    assert "triggerEvent: Order.placed" in yaml_page.text


async def test_a_state_machine_highlights_the_state_of_an_instance(
    engine: Engine, browser: BrowserFactory
) -> None:
    machine = {"name": "door", "initial": "closed", "states": {
        "closed": {"on": {"open": "opened"}},
        "opened": {"on": {"close": "closed", "lock": "locked"}},
        "locked": {"terminal": True}}}  # fmt: skip
    created = await engine.workflows.create("acme", machine)
    await engine.workflows.activate("acme", created.id)
    async with engine:
        await engine.machines.send("acme", "door", "front", "open")
        await machine_state(engine, "door", "front", "opened")
    viewer = await browser("acme", "viewer")
    page = await viewer.get("/workflows/door?instance=front")
    drawing = svg_of(page.text)
    current = re.findall(r'<g class="([^"]*)" data-node="(\w+)"', drawing)
    assert ("node kind-state current", "opened") in current
    assert ("node kind-state", "closed") in current
    assert ">lock<title>" in drawing  # the transition's label
    assert 'id="instance-state"' in page.text


async def machine_state(engine: Engine, workflow: str, key: str, state: str) -> None:
    from plait.testing import assert_eventually

    async def reached() -> bool:
        return (await engine.machines.get("acme", workflow, key)).state == state

    await assert_eventually(reached, timeout=20)


async def test_versions_show_a_diff_of_a_changed_line(
    engine: Engine, browser: BrowserFactory
) -> None:
    created = await engine.workflows.create("acme", ORDER)
    await engine.workflows.update("acme", created.id, {"description": "Ship an order fast"})
    viewer = await browser("acme", "viewer")
    page = await viewer.get(f"/workflows/{created.id}")
    diff = re.search(r'<div class="diff" id="diff".*?</section>', page.text, re.S)
    assert diff, page.text
    lines = re.findall(r'<div class="(add|del)">(.*?)</div>', diff.group(0))
    assert ("del", "-  &#34;description&#34;: &#34;Ship an order&#34;,") in lines
    assert ("add", "+  &#34;description&#34;: &#34;Ship an order fast&#34;,") in lines
    assert len(lines) == 2  # nothing else changed
    older = await viewer.get(f"/workflows/{created.id}?version=1")
    assert "(version 1;" in older.text
    same = await viewer.get(f"/workflows/{created.id}?base=2&to=2")
    assert "No changes between version 2 and version 2" in same.text


async def test_activate_pause_archive_change_the_status(
    engine: Engine, browser: BrowserFactory
) -> None:
    created = await engine.workflows.create("acme", ORDER)
    editor = await browser("acme", "editor")
    page = await editor.get(f"/workflows/{created.id}")
    assert 'id="activate"' in page.text and 'id="archive"' in page.text
    assert "data-confirm=" in page.text
    for verb, status in (("activate", "Activated"), ("pause", "Paused"),
                         ("activate", "Activated"), ("archive", "Archived")):  # fmt: skip
        answer = await editor.post(f"/workflows/{created.id}/{verb}")
        assert answer.status_code == 200, answer.text
        assert str(answer.url).endswith(f"/workflows/{created.id}?done={status.lower()}")
        assert (await engine.workflows.get("acme", created.id)).status == status
    assert 'id="notice"' in answer.text
    assert 'id="activate"' not in answer.text and 'id="archive"' not in answer.text


async def test_activation_refused_shows_why(engine: Engine, browser: BrowserFactory) -> None:
    untriggered = {k: v for k, v in ORDER.items() if k != "triggerEvent"}
    created = await engine.workflows.create("acme", untriggered)
    editor = await browser("acme", "editor")
    await editor.get(f"/workflows/{created.id}")
    refused = await editor.post(f"/workflows/{created.id}/activate")
    assert refused.status_code == 422
    assert "$.triggerEvent" in refused.text
    assert (await engine.workflows.get("acme", created.id)).status == "Draft"


async def test_a_viewer_sees_no_buttons_and_is_refused_with_nothing_changed(
    engine: Engine, browser: BrowserFactory
) -> None:
    created = await engine.workflows.create("acme", ORDER)
    viewer = await browser("acme", "viewer")
    page = await viewer.get(f"/workflows/{created.id}")
    for button in ('id="activate"', 'id="archive"', 'id="edit"', 'id="trigger"'):
        assert button not in page.text
    for path in ("activate", "archive", "edit", "trigger", "validate"):
        answer = await viewer.post(f"/workflows/{created.id}/{path}",
                                   {"definition": "{}", "input": "{}"})  # fmt: skip
        assert answer.status_code == 403, (path, answer.text)
    assert (await viewer.post("/workflows/new", {"definition": "{}"})).status_code == 403
    assert (await viewer.get("/workflows/new")).status_code == 403
    stored = await engine.workflows.get("acme", created.id)
    assert (stored.status, stored.version) == ("Draft", 1)
    assert (await engine.runs.find("acme", workflow="order-flow")).items == []


async def test_a_change_without_the_csrf_token_is_refused(
    engine: Engine, browser: BrowserFactory
) -> None:
    created = await engine.workflows.create("acme", ORDER)
    editor = await browser("acme", "editor")
    answer = await editor.client.post(f"/workflows/{created.id}/activate", data={"csrf": "x"})
    assert answer.status_code == 403
    assert (await engine.workflows.get("acme", created.id)).status == "Draft"


async def test_trigger_shows_input_errors_and_starts_a_run_with_valid_input(
    engine: Engine, browser: BrowserFactory
) -> None:
    created = await engine.workflows.create("acme", ORDER)
    runner = await browser("acme", "runner")
    form = await runner.get(f"/workflows/{created.id}/trigger")
    assert 'name="in.orderId"' in form.text and 'name="in.amount"' in form.text

    broken = await runner.post(f"/workflows/{created.id}/trigger", {"input": '{"orderId": '})
    assert broken.status_code == 422
    assert problems_of(broken.text) == ["$.input"]
    assert "not valid JSON" in broken.text

    wrong = await runner.post(f"/workflows/{created.id}/trigger",
                              {"in.orderId": "o-1", "in.amount": "lots"})  # fmt: skip
    assert wrong.status_code == 422
    assert problems_of(wrong.text) == ["$.input.amount"]

    missing = await runner.post(f"/workflows/{created.id}/trigger", {"input": '{"orderId": 3}'})
    assert missing.status_code == 422
    assert problems_of(missing.text) == ["$.input", "$.input.orderId"]
    assert (await engine.runs.find("acme", workflow="order-flow")).items == []

    started = await runner.post(f"/workflows/{created.id}/trigger",
                                {"in.orderId": "o-1", "in.amount": "250"})  # fmt: skip
    runs = (await engine.runs.find("acme", workflow="order-flow")).items
    assert len(runs) == 1
    assert runs[0].input == {"orderId": "o-1", "amount": 250.0}
    assert started.history[0].status_code == 303
    assert started.history[0].headers["location"] == f"/runs/{runs[0].id}"

    by_json = await runner.post(
        f"/workflows/{created.id}/trigger",
        {"input": orjson.dumps({"orderId": "o-2", "amount": 1}).decode()},
    )
    assert by_json.history[0].status_code == 303
    assert len((await engine.runs.find("acme", workflow="order-flow")).items) == 2


async def test_validate_returns_problems_at_their_paths_and_none_for_a_valid_definition(
    engine: Engine, browser: BrowserFactory
) -> None:
    created = await engine.workflows.create("acme", ORDER)
    editor = await browser("acme", "editor")
    await editor.get(f"/workflows/{created.id}/edit")
    broken = {**ORDER, "steps": [{"id": "a", "type": "bogus"},
                                 {"id": "b", "type": "function", "function": "log",
                                  "dependsOn": ["nowhere"]}]}  # fmt: skip
    checked = await editor.post(f"/workflows/{created.id}/validate",
                                {"definition": orjson.dumps(broken).decode()},
                                headers={"HX-Request": "true"})  # fmt: skip
    assert checked.status_code == 200
    assert checked.text.lstrip().startswith('<div id="findings"')  # a fragment, no layout
    paths = problems_of(checked.text)
    assert "$.steps[0].type" in paths or "$.steps[0]" in paths
    assert any(p.startswith("$.steps[1].dependsOn") for p in paths), paths

    valid = await editor.post(f"/workflows/{created.id}/validate",
                              {"definition": orjson.dumps(ORDER).decode()})  # fmt: skip
    assert problems_of(valid.text) == []
    assert 'id="valid"' in valid.text

    not_json = await editor.post("/workflows/new/validate", {"definition": '{"name": '})
    assert problems_of(not_json.text) == ["$"]
    assert (await engine.workflows.get("acme", created.id)).version == 1


async def test_edit_saves_a_new_version_or_shows_the_problems(
    engine: Engine, browser: BrowserFactory
) -> None:
    created = await engine.workflows.create("acme", ORDER)
    editor = await browser("acme", "editor")
    form = await editor.get(f"/workflows/{created.id}/edit")
    assert 'hx-post="/workflows/' in form.text and 'hx-trigger="input changed delay:500ms"' in (
        form.text
    )
    changed = {k: v for k, v in ORDER.items() if k != "description"}
    saved = await editor.post(f"/workflows/{created.id}/edit",
                              {"definition": orjson.dumps(changed).decode()})  # fmt: skip
    assert saved.status_code == 200 and "?done=saved" in str(saved.url)
    stored = await engine.workflows.get("acme", created.id)
    assert stored.version == 2
    assert stored.description is None  # removed in the editor: removed from the workflow

    refused = await editor.post(f"/workflows/{created.id}/edit",
                                {"definition": '{"name": "order-flow", "steps": 3}'})  # fmt: skip
    assert refused.status_code == 422
    assert "$.steps" in problems_of(refused.text)[0]
    assert (await engine.workflows.get("acme", created.id)).version == 2


async def test_create_a_workflow_through_the_form(engine: Engine, browser: BrowserFactory) -> None:
    editor = await browser("acme", "editor")
    form = await editor.get("/workflows/new")
    assert form.status_code == 200 and 'name="definition"' in form.text
    source = "name: from-the-console\ntriggerEvent: Thing.happened\nsteps:\n" \
             "  - {id: hello, type: function, function: log, input: {message: hi}}\n"  # fmt: skip
    created = await editor.post("/workflows/new", {"definition": source})
    assert created.status_code == 200, created.text
    assert "?done=created" in str(created.url)
    stored = await engine.workflows.get("acme", "from-the-console")
    assert (stored.status, stored.version) == ("Draft", 1)
    assert "hello" in svg_of(created.text)

    again = await editor.post("/workflows/new", {"definition": source})
    assert again.status_code == 409  # the name is taken
    assert "from-the-console" in again.text
    invalid = await editor.post("/workflows/new", {"definition": "name: x\nsteps: 3\n"})
    assert invalid.status_code == 422
    assert problems_of(invalid.text)
