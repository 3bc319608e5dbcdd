from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.chat import chat, line_to_event, render_replies
from app.cli import main
from app.content.schema import json_schemas
from tests.conftest import SERVICE_TOKEN
from tests.content.fixtures import GOOD, apply_edits, copy_good

ROOT = Path(__file__).resolve().parents[1]


def test_content_check_passes_on_good_content(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "check", "--dir", str(GOOD)]) == 0
    assert capsys.readouterr().out.strip().endswith(f"0 errors, 0 warnings in {GOOD}")


def test_content_check_fails_with_located_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    content = copy_good(tmp_path)
    apply_edits(
        content,
        [{"file": "*/trees/main.yaml", "replace": "goto: contacts", "with": "goto: nowhere"}],
    )
    assert main(["content", "check", "--dir", str(content)]) == 1
    out = capsys.readouterr().out
    assert (
        "content/ky/trees/main.yaml:16: tree.nodes[0].options[2].goto: error "
        "[dangling_reference] 'nowhere' is not a known node" in out
    )
    assert "6 errors, 0 warnings" in out


def test_strict_check_fails_on_warnings(tmp_path: Path) -> None:
    content = copy_good(tmp_path)
    apply_edits(
        content,
        [
            {
                "file": "ky/topics/basics.yaml",
                "replace": "title: '[ky] Documents'",
                "with": "title: {fallback: en}",
            }
        ],
    )
    assert main(["content", "check", "--dir", str(content)]) == 0
    assert main(["content", "check", "--strict", "--dir", str(content)]) == 1


def test_published_json_schemas_are_current() -> None:
    for kind, schema in json_schemas().items():
        path = ROOT / "content" / "schema" / f"{kind}.schema.json"
        assert json.loads(path.read_text(encoding="utf-8")) == schema, "run `jol content schema`"


def test_content_load_publishes_once_and_refuses_broken_content(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "JOL_CONTENT_DIR": str(GOOD),
        "JOL_REVIEW_MAX_AGE_DAYS": "100000",
    }

    def jol(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )

    assert jol("db", "upgrade").returncode == 0
    first = jol("content", "load")
    assert first.returncode == 0 and "content published as version 1" in first.stdout
    again = jol("content", "load")
    assert again.returncode == 0 and "unchanged, still version 1" in again.stdout
    broken = copy_good(tmp_path)
    apply_edits(
        broken,
        [{"file": "en/trees/main.yaml", "replace": "goto: contacts", "with": "goto: nowhere"}],
    )
    refused = jol("content", "load", "--dir", str(broken))
    assert refused.returncode == 1
    assert "not loaded: content has 3 errors" in refused.stderr  # dangling, unreachable, mismatch
    assert "[dangling_reference]" in refused.stdout


def test_chat_rendering() -> None:
    text, buttons = render_replies(
        [
            {
                "text": "**Hi** see [site](https://a.kg)",
                "buttons": [[{"label": "One", "data": "n.1"}], [{"label": "Two", "data": "n.2"}]],
                "contact_request": None,
            }
        ],
        ansi=False,
    )
    assert text.splitlines()[:3] == ["Hi see site (https://a.kg)", "  [1] One", "  [2] Two"]
    assert line_to_event("2", buttons) == {"type": "button", "data": "n.2"}
    assert line_to_event("3", buttons) == {"type": "text", "text": "3"}
    assert line_to_event("/phone +996 555", buttons) == {
        "type": "contact",
        "phone": "+996 555",
        "own": True,
    }


async def test_chat_walks_a_tree_through_the_api(app: FastAPI) -> None:
    lines = iter(["1", "1", "2", "/quit"])  # Continue, Russia, "Is this offer safe?"
    out: list[str] = []
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://jol") as client:
        await chat(
            client,
            user="editor",
            lang="en",
            token=SERVICE_TOKEN,
            read=lambda: next(lines),
            write=out.append,
        )
    transcript = "\n".join(out)
    assert "Welcome to Jol." in transcript
    assert "Where are you going?" in transcript
    assert "Main menu" in transcript
    expected = [
        "Main menu",
        "  [1] Before you go",
        "  [2] Is this offer safe?",
        "  [3] Contacts",
        "  [4] Change destination",
        "  [5] 🆘 I need help now",
        "",
        "Do they ask you to pay?",
        "  [1] Yes",
        "  [2] No",
        "  [3] ⬅ Back",
        "  [4] ☰ Menu",
        "  [5] 🆘 I need help now",
    ]
    assert transcript.rstrip().splitlines()[-len(expected) :] == expected
