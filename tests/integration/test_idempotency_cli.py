"""``--idempotency-key`` on ``plait workflows trigger``, ``plait emit`` and the run operations,
through the real command line: a repeat prints what the first did and does nothing again."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_service_cli import EXAMPLES, data, plait


def test_repeated_commands_with_a_key_act_once(tmp_path: Path) -> None:
    (tmp_path / "deal.json").write_text((EXAMPLES / "deal-won.json").read_text())
    wid = data(plait("workflows", "create", "deal.json", "--json", cwd=tmp_path))["$id"]
    data(plait("workflows", "activate", wid, "--json", cwd=tmp_path))

    def trigger(name: str) -> dict[str, str]:
        return data(plait("workflows", "trigger", wid, "--input", f'{{"name": "{name}"}}',
                          "--idempotency-key", "deal-7", "--json", cwd=tmp_path))  # fmt: skip

    first, again = trigger("Acme"), trigger("Acme")
    assert again["$id"] == first["$id"]
    refused = plait("workflows", "trigger", wid, "--input", '{"name": "Other"}',
                    "--idempotency-key", "deal-7", cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 4
    assert "idempotency key 'deal-7' was first used for another request" in refused.stderr

    emitted = [data(plait("emit", "Deal.won", "--data", '{"name": "B"}', "--idempotency-key",
                          "won-1", "--json", cwd=tmp_path)) for _ in "ab"]  # fmt: skip
    assert emitted[0] == emitted[1] and len(emitted[0]["runs"]) == 1

    cancelled = [data(plait("runs", "cancel", first["$id"], "--idempotency-key", "stop-1",
                            "--json", cwd=tmp_path)) for _ in "ab"]  # fmt: skip
    assert [c["status"] for c in cancelled] == ["cancelled", "cancelled"]
    retried = [data(plait("runs", "retry", first["$id"], "--idempotency-key", "again-1",
                          "--json", cwd=tmp_path)) for _ in "ab"]  # fmt: skip
    assert retried[0]["$id"] == retried[1]["$id"] != first["$id"]
    runs = data(plait("runs", "list", "--json", cwd=tmp_path))["items"]
    assert len(runs) == 3  # the trigger, the emit's run, one retry
