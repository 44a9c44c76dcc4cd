"""`plait secrets` through the real command line: set (refused without PLAIT_SECRET_KEY), list
(never a value), rotate under a new key, delete."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SECRET = "sk_live_cli_4242"


def plait(
    *args: str, cwd: Path, key: str | None = None, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")}
    if key is not None:
        env["PLAIT_SECRET_KEY"] = key
    return subprocess.run([sys.executable, "-m", "plait", "secrets", *args], cwd=cwd, env=env,
                          input=stdin or "", capture_output=True, text=True,
                          timeout=60)  # fmt: skip


def test_secrets_from_the_shell(tmp_path: Path) -> None:
    refused = plait("set", "TOKEN", "--value", SECRET, "--org", "acme", cwd=tmp_path)
    assert refused.returncode != 0
    assert "PLAIT_SECRET_KEY" in refused.stderr and SECRET not in refused.stderr
    old = plait("generate-key", cwd=tmp_path).stdout.strip()
    new = json.loads(plait("generate-key", "--json", cwd=tmp_path).stdout)["key"]
    assert old != new and len(old) == 44

    made = plait("set", "TOKEN", "--from-stdin", "--org", "acme", "--json", cwd=tmp_path,
                 key=old, stdin=SECRET + "\n")  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert set(json.loads(made.stdout)) == {"name", "createdAt", "updatedAt"}
    again = plait("set", "TOKEN", "--from-stdin", "--org", "acme", cwd=tmp_path, key=old,
                  stdin=SECRET)  # fmt: skip
    assert again.stdout.strip() == "replaced secret TOKEN of acme"
    listed = plait("list", "--org", "acme", "--json", cwd=tmp_path)
    assert [s["name"] for s in json.loads(listed.stdout)["items"]] == ["TOKEN"]
    assert SECRET not in listed.stdout
    assert SECRET.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("plait.db*"))

    rotated = plait("rotate", "--json", cwd=tmp_path, key=f"{new},{old}")
    assert rotated.returncode == 0, rotated.stderr
    assert json.loads(rotated.stdout)["secrets"] == 1
    assert plait("rotate", cwd=tmp_path, key=new).returncode == 0  # opens with the new key alone
    unreadable = plait("rotate", cwd=tmp_path, key=old)
    assert unreadable.returncode != 0 and "cannot be decrypted" in unreadable.stderr

    deleted = plait("delete", "TOKEN", "--org", "acme", "--json", cwd=tmp_path)
    assert json.loads(deleted.stdout) == {"$id": "TOKEN", "$type": "Secret", "deleted": True}
    gone = plait("delete", "TOKEN", "--org", "acme", cwd=tmp_path)
    assert gone.returncode == 3 and "no secret 'TOKEN'" in gone.stderr


def test_plait_test_takes_the_secrets_a_definition_reads(tmp_path: Path) -> None:
    definition = {
        "name": "notify", "dialect": "canonical",
        "steps": [
            {"kind": "action", "id": "post", "action": "http",
             "input": {"url": "https://crm.test", "headers": {"A": "{{secrets.CRM_TOKEN}}"}}},
            {"kind": "action", "id": "say", "action": "log", "depends_on": ["post"],
             "input": "token {{secrets.CRM_TOKEN}}"},
        ],
    }  # fmt: skip
    (tmp_path / "notify.json").write_text(json.dumps(definition))

    def dry_run(*more: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "plait", "test", "notify.json", "--mock", 'http={"ok": 1}',
             "--json", *more], cwd=tmp_path, capture_output=True, text=True, timeout=60,
            env={k: v for k, v in os.environ.items() if not k.startswith("PLAIT_")},
        )  # fmt: skip

    missing = json.loads(dry_run().stdout)
    assert missing["status"] == "failed"
    assert "no secret 'CRM_TOKEN'" in missing["errors"][0]["message"]
    passed = dry_run("--secret", f"CRM_TOKEN={SECRET}")
    report = json.loads(passed.stdout)
    assert report["status"] == "succeeded", passed.stderr
    assert report["steps"]["say"]["output"] == "token [secret:CRM_TOKEN]"
    assert SECRET not in passed.stdout + passed.stderr
