"""``guiagent mcp`` under the mcp package's own client (stdio and streamable HTTP): an MCP client signs in to the
demo site through the tools, a blocked host and an action an approval rule guards are the tool's errors, the episode ends settled by its check, and the
trajectory (steps from ``mcp:<client>``) exports and replays strictly."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import mcp_types as types
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from guiagent.agent.trajectory import load_trajectory
from tests.model.server import ROOT

CLI = [sys.executable, "-m", "guiagent.agent.cli"]
SIGN_IN = [("left_click", {"coordinate": [640, 220]}), ("type", {"text": "demo"}),
           ("left_click", {"coordinate": [640, 290]}), ("type", {"text": "demo"}),
           ("left_click", {"coordinate": [640, 362]})]
BLOCKED = "http://blocked.example/secret"


@asynccontextmanager
async def http_server(args: list[str]) -> AsyncIterator[str]:
    """``guiagent mcp --http --port 0``: its URL, read from the line it prints on stderr."""
    proc = await anyio.open_process([*CLI, *args, "--http", "--port", "0"], cwd=ROOT)
    try:
        assert proc.stderr is not None
        seen = b""
        with anyio.fail_after(120):
            while not (m := re.search(rb"MCP server at (http://\S+)\n", seen)):
                seen += await proc.stderr.receive()
        yield m.group(1).decode()
    finally:
        proc.terminate()
        with anyio.move_on_after(60):
            await proc.wait()


@asynccontextmanager
async def connect(transport: str, out: Path) -> AsyncIterator[Client]:
    args = ["mcp", "--demo-site", "--block", "blocked.example", "--approve", "text:secret*", "--out", str(out)]
    me = types.Implementation(name="pytest", version="1")
    if transport == "stdio":
        async with Client(StdioServerParameters(command=CLI[0], args=[*CLI[1:], *args], cwd=str(ROOT)), client_info=me) as c:
            yield c
        return
    async with http_server(args) as url, Client(url, client_info=me) as c:
        yield c


def text(result: types.CallToolResult) -> str:
    """The result's first text block."""
    return next(c.text for c in result.content if isinstance(c, types.TextContent))


async def drive(transport: str, out: Path) -> dict:
    async with connect(transport, out) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert {"screenshot", "left_click", "type", "key", "scroll", "left_click_drag", "navigate"} <= set(names)
        early = await client.call_tool("left_click", {"coordinate": [1, 1]})
        assert early.is_error and "start_task" in text(early)
        started = await client.call_tool("start_task", {"instruction": "Sign in as demo / demo", "start_url": "/login",
                                                        "success": ["url:/list$"]})
        assert not started.is_error, started.content
        shot = await client.call_tool("screenshot", {})
        image = next(c for c in shot.content if isinstance(c, types.ImageContent))
        assert base64.b64decode(image.data)[:4] in (b"\x89PNG", b"\xff\xd8\xff\xe0", b"\xff\xd8\xff\xdb", b"RIFF")
        for name, args in SIGN_IN:
            result = await client.call_tool(name, args)
            assert not result.is_error, result.content
        refused = await client.call_tool("navigate", {"url": BLOCKED})
        assert refused.is_error and "blocked by policy" in text(refused)
        guarded = await client.call_tool("type", {"text": "secret"})  # no person approves here: the rule refuses it
        assert guarded.is_error and "approval rule text:secret*" in text(guarded)
        bad = await client.call_tool("left_click", {"coordinate": [5000, 10]})
        assert bad.is_error and "outside" in text(bad)
        ended = await client.call_tool("end_task", {"status": "success"})
        assert not ended.is_error, ended.content
        return json.loads(text(ended))


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_an_mcp_client_signs_in_and_its_episode_exports_and_replays(transport: str, tmp_path: Path) -> None:
    summary = anyio.run(drive, transport, tmp_path / "mcp")
    folder = Path(summary["folder"])
    assert summary["outcome"] == "success" and folder.parent == tmp_path / "mcp", summary
    traj = load_trajectory(folder)
    assert [s.source for s in traj.steps] == ["mcp:pytest"] * 8
    assert traj.meta.declared is not None and traj.meta.declared.by == "mcp:pytest"
    navigate = traj.steps[5]
    assert navigate.actions[0]["url"] == BLOCKED and not navigate.results[0].ok
    assert not any("blocked.example" in (u or "") for s in traj.steps for u in (s.url, s.url_after))  # nothing of the page
    if transport == "http":  # the same recorder wrote it: exported and replayed once, below, to spare CI the time
        return
    export = subprocess.run([*CLI, "export", str(folder), "--format", "llamafactory", "-o", str(tmp_path / "lf")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert export.returncode == 0, export.stdout + export.stderr
    assert json.loads((tmp_path / "lf" / "data.json").read_text())
    replay = subprocess.run([*CLI, "replay", str(folder), "--mode", "strict", "--out", str(tmp_path / "replayed")],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert replay.returncode == 0, replay.stdout + replay.stderr
