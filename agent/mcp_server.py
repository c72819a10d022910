"""``guiagent mcp``: an env (browser or desktop) as computer-use tools for any MCP client, every call recorded.

Tools: ``start_task`` (an instruction, an optional start URL and success check) opens an episode folder under
``--out``; ``screenshot`` returns the screen as MCP image content; one tool per action of the computer_use
vocabulary (generated from the action models: the same names, parameters and texts the model's tool has);
``end_task`` declares the end and returns the outcome the task's checks settle. Coordinates are pixels of the
last screenshot. Each action call is one step of the episode (ExternalPolicy, source ``mcp:<client>``), with the
screen it acted on as its frame; a refused action (URL policy, an ``--approve`` rule: no person answers here) is
the tool's error.
"""

from __future__ import annotations

import base64
import itertools
import json
import sys
from pathlib import Path
from typing import Any, Literal

import anyio
import mcp_types as types
from mcp.server import Server, ServerRequestContext
from pydantic import ValidationError

from guiagent.agent.outside import EpisodeOver, OutsideRun
from guiagent.agent.run_options import first_error, success_check
from guiagent.agent.runner import ConfigError, RunSpec
from guiagent.agent.spec import BrowserEnvSpec
from guiagent.policies import DecisionContext, DecisionSource
from guiagent.policies.external import ExternalPolicy, from_screen_pixels
from guiagent.tools import CoordinateOutOfRange, Observation, Terminate
from guiagent.tools.actions import ActionError, offered_actions, parse_action, shown_fields

ENDS_ELSEWHERE = {"terminate", "answer"}  # end_task ends an episode
POINTS_NOTE = " Coordinates are pixels of the last screenshot, [x, y] from its top-left corner."


def action_tools(env: Literal["browser", "desktop"]) -> list[types.Tool]:
    """One tool per action a model is offered in an ``env`` episode, its schema from the action's model."""
    tools = []
    for name, model in offered_actions(env, "qwen3-vl").items():
        if name in ENDS_ELSEWHERE:
            continue
        schema = model.model_json_schema()
        fields = shown_fields(model)
        props = {f: {k: v for k, v in schema["properties"][f].items() if k not in ("title", "default")} for f in fields}
        required = [f for f in fields if model.model_fields[f].is_required()]
        text = (model.__doc__ or "").strip().splitlines()[0]
        tools.append(types.Tool(
            name=name, description=text + (POINTS_NOTE if model._point_fields else ""),
            input_schema={"type": "object", "properties": props, "required": required, "additionalProperties": False},
        ))
    return tools


TASK_TOOLS = [
    types.Tool(name="start_task", description=(
        "Start an episode: a new trajectory folder, the page or app opened fresh. Returns the first screenshot."),
        input_schema={"type": "object", "required": ["instruction"], "additionalProperties": False, "properties": {
            "instruction": {"type": "string", "description": "The task, in words (recorded with the episode)."},
            "start_url": {"type": "string", "description": "browser: the page to open first (relative: on the demo site)."},
            "success": {"type": "array", "items": {"type": "string"}, "description": (
                "The success check run on the final world when the task ends: url:REGEX, text:TEXT, selector:CSS, "
                "js:EXPR, window:REGEX or a JSON object; all must hold.")},
        }}),
    types.Tool(name="screenshot", description="The screen as it is now (an image); coordinates of the other tools are its pixels.",
               input_schema={"type": "object", "properties": {}, "additionalProperties": False}),
    types.Tool(name="end_task", description=(
        "End the episode with your status; the task's success check then runs on the final world and the "
        "outcome (success, failure, unverified) is returned."),
        input_schema={"type": "object", "required": ["status"], "additionalProperties": False, "properties": {
            "status": {"type": "string", "enum": ["success", "failure"]},
            "answer": {"type": "string", "description": "The answer, when the task asks for one."},
        }}),
]


def _text(text: str) -> types.TextContent:
    return types.TextContent(type="text", text=text)


def _image(obs: Observation) -> types.ImageContent:
    return types.ImageContent(type="image", data=base64.b64encode(obs.image).decode(), mime_type=f"image/{obs.image_format}")


def _error(text: str) -> types.CallToolResult:
    return types.CallToolResult(content=[_text(text)], is_error=True)


def _screen_text(context: DecisionContext) -> str:
    obs = context.observation
    where = f"; url {obs.url}" if obs.url else f"; window {obs.window}" if obs.window else ""
    return f"step {context.step + 1}: screen {obs.geometry.width}x{obs.geometry.height}{where}"


def refuse_guarded(request: dict[str, Any]) -> dict[str, Any]:
    """The approver of an MCP client's episode: no person answers here, so an action an --approve rule guards is
    refused (the tool's error names the rule) and the episode goes on."""
    return {"approved": False, "note": f"no person approves an MCP client's actions here (rule {request.get('rule')})"}


class McpDriver:
    """The episodes one MCP server runs: at most one at a time, each in a folder of its own under ``out``."""

    def __init__(self, spec: RunSpec, out: Path) -> None:
        self.spec, self.out = spec, out
        self.run: OutsideRun | None = None
        self._numbers = itertools.count(1)

    def _folder(self) -> Path:
        while (folder := self.out / f"episode-{next(self._numbers):03d}").exists():
            pass
        return folder

    # Each method runs on a worker thread (the episode's own thread holds the env).

    def start(self, client: str, args: dict[str, Any]) -> types.CallToolResult:
        if self.run is not None and not self.run.done:
            return _error(f"an episode is running in {self.run.out}: end it with end_task first")
        try:
            success = args.get("success")
            check = success_check([success] if isinstance(success, str) else list(success or []))
            env = self.spec.env
            if args.get("start_url") and isinstance(env, BrowserEnvSpec):
                env = env.model_copy(update={"start_url": args["start_url"]})
            spec = self.spec.model_copy(update={"task": args["instruction"], "env": env, "success": check or self.spec.success})
        except ConfigError as exc:
            return _error(str(exc))
        folder = self._folder()
        run = OutsideRun(spec, folder, ExternalPolicy(DecisionSource.MCP, client), {}, approver=refuse_guarded)
        try:
            context = run.start()
        except EpisodeOver as exc:
            run.close()
            return _error(str(exc))
        self.run = run
        return types.CallToolResult(content=[_text(f"episode recorded in {folder}; " + _screen_text(context)),
                                             _image(context.observation)])

    def _running(self) -> OutsideRun:
        if self.run is None:
            raise EpisodeOver("no episode is running: start one with start_task")
        return self.run

    def screenshot(self) -> types.CallToolResult:
        try:
            context = self._running().turn()
        except EpisodeOver as exc:
            return _error(str(exc))
        return types.CallToolResult(content=[_text(_screen_text(context)), _image(context.observation)])

    def act(self, name: str, args: dict[str, Any]) -> types.CallToolResult:
        try:
            run = self._running()
            action = parse_action({"action": name, **args})
            context = run.turn()
            record = run.step(from_screen_pixels([action], context.observation.geometry, DecisionSource.MCP))
        except (ActionError, CoordinateOutOfRange) as exc:
            return _error(f"{name}: {exc}")
        except EpisodeOver as exc:
            return _error(str(exc))
        failed = [r.message or "failed" for r in record.results if not r.ok]
        content: list[types.ContentBlock] = [_text("; ".join(failed) if failed else "ok")]
        try:
            after = run.turn()
            content += [_text(_screen_text(after)), _image(after.observation)]
        except EpisodeOver as exc:
            content.append(_text(str(exc)))
        return types.CallToolResult(content=content, is_error=bool(failed))

    def end(self, args: dict[str, Any]) -> types.CallToolResult:
        try:
            run = self._running()
            done = Terminate(status=args["status"], answer=args.get("answer"))
            result = run.end(from_screen_pixels([done], run.turn().observation.geometry, DecisionSource.MCP))
        except ValidationError as exc:
            return _error(f"end_task: {first_error(exc)}")
        except EpisodeOver as exc:
            return _error(str(exc))
        verdicts = [{"check": v.check, "passed": v.passed, "saw": v.saw} for v in result.verified]
        summary = {"outcome": result.status.value, "reason": result.reason, "steps": result.steps,
                   "folder": str(run.out), "verified": verdicts}
        return types.CallToolResult(content=[_text(json.dumps(summary))], structured_content=summary)

    def close(self) -> None:
        if self.run is not None:
            self.run.close("the MCP client disconnected")


def build_server(driver: McpDriver) -> Server:
    """The MCP server over ``driver``: tools listed from the action models, calls run on worker threads."""
    tools = [*TASK_TOOLS[:2], *action_tools(driver.spec.env.kind), TASK_TOOLS[2]]
    names = {t.name for t in tools}

    async def list_tools(ctx: ServerRequestContext, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: ServerRequestContext, params: types.CallToolRequestParams) -> types.CallToolResult:
        name, args = params.name, dict(params.arguments or {})
        if name not in names:
            return _error(f"no tool {name!r}: the tools are {', '.join(sorted(names))}")
        if name == "start_task":
            return await anyio.to_thread.run_sync(driver.start, client_name(ctx), args)
        if name == "screenshot":
            return await anyio.to_thread.run_sync(driver.screenshot)
        if name == "end_task":
            return await anyio.to_thread.run_sync(driver.end, args)
        return await anyio.to_thread.run_sync(driver.act, name, args)

    return Server("guiagent", instructions=__doc__, on_list_tools=list_tools, on_call_tool=call_tool)


def client_name(ctx: ServerRequestContext) -> str:
    """The MCP client's name as it introduced itself (``client`` if it did not)."""
    params = ctx.session.client_params
    return params.client_info.name if params is not None and params.client_info.name else "client"


def serve_stdio(driver: McpDriver) -> None:
    """Serve one client on stdin/stdout until it closes them."""
    from mcp.server.stdio import stdio_server

    server = build_server(driver)

    async def main() -> None:
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())

    try:
        anyio.run(main)
    finally:
        driver.close()


def serve_http(driver: McpDriver, host: str, port: int) -> None:
    """Serve streamable HTTP at http://HOST:PORT/mcp (printed on stderr once listening)."""
    import uvicorn

    app = build_server(driver).streamable_http_app(host=host)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)

    async def main() -> None:
        await server.serve()

    original = server.startup

    async def startup(sockets: Any = None) -> None:
        await original(sockets)
        for s in server.servers:
            for sock in s.sockets:
                h, p = sock.getsockname()[:2]
                sys.stderr.write(f"MCP server at http://{h}:{p}/mcp\n")
                sys.stderr.flush()

    server.startup = startup  # type: ignore[method-assign]
    try:
        anyio.run(main)
    finally:
        driver.close()
