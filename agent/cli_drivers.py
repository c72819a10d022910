"""The commands through which someone outside the loop watches or drives an episode: ``guiagent watch`` (a
person, in the live view) and ``guiagent mcp`` (an MCP client); ``batch --live``'s view.

Registered on the main app by ``register``; like cli.py, only typer and the standard library load at start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import typer


@contextmanager
def batch_view(out: Path, run_options: dict[str, Any], announce: Callable[[str], None]) -> Iterator[None]:
    """``batch --live``: the batch folder's live view while the batch runs (nothing without --live)."""
    if not run_options.get("live"):
        yield
        return
    from guiagent.agent.live import BatchFolder, LiveServer, announcement

    with LiveServer(BatchFolder(out), None, run_options.get("live_host") or "127.0.0.1") as server:
        announce(announcement(server))
        yield


def register(app: typer.Typer, exit_usage: int) -> None:
    """Add ``watch`` and ``mcp`` to ``app``."""

    @app.command()
    def watch(
        folder: Annotated[Path, typer.Argument(help="A trajectory folder or a batch folder, running or not.")],
        live_host: Annotated[str, typer.Option(help="The address the view listens on (default this machine only).")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=0, max=65535, help="The port (0: any free one).")] = 0,
    ) -> None:
        """Serve the live view of a folder another process writes (an approval there is answered as guiagent approve does)."""
        import threading

        from guiagent.agent.live import watch_folder

        try:
            with watch_folder(folder, live_host, lambda line: typer.echo(line, err=True), port):
                threading.Event().wait()
        except ValueError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exit_usage) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    @app.command()
    def mcp(
        out: Annotated[Path, typer.Option("--out", "-o", help="The folder of the episodes' trajectory folders (episode-001, ...).")] = Path("runs/mcp"),
        http: Annotated[bool, typer.Option(help="Serve streamable HTTP at http://HOST:PORT/mcp instead of stdio.")] = False,
        host: Annotated[str, typer.Option(help="With --http: the address to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=0, max=65535, help="With --http: the port (0: any free one, printed on stderr).")] = 8765,
        env: Annotated[Literal["browser", "desktop"], typer.Option(help="browser (Playwright) or desktop (X11).")] = "browser",
        demo_site: Annotated[bool, typer.Option(help="Serve the bundled demo site; relative start URLs point at it.")] = False,
        start_url: Annotated[str | None, typer.Option(help="The page every task opens first unless start_task names one.")] = None,
        max_steps: Annotated[int, typer.Option(min=1, help="Steps an episode may take.")] = 200,
        viewport: Annotated[str, typer.Option(help="Viewport in CSS pixels, WxH.")] = "1280x800",
        scale: Annotated[float, typer.Option(help="Device scale factor.")] = 1.0,
        headed: Annotated[bool, typer.Option(help="Show the browser window.")] = False,
        chromium: Annotated[str | None, typer.Option(help="Chromium binary (default: Debian's /usr/bin/chromium).")] = None,
        allow: Annotated[list[str] | None, typer.Option(help="browser: only these hosts; repeatable.")] = None,
        block: Annotated[list[str] | None, typer.Option(help="browser: never these hosts; repeatable.")] = None,
        private_network: Annotated[bool | None, typer.Option("--private-network/--no-private-network", help="browser: reach localhost and private addresses (default: with --demo-site).")] = None,
        secret: Annotated[list[str] | None, typer.Option(help="A secret typed as {{NAME}}, its value from $NAME or --secrets-file.")] = None,
        secrets_file: Annotated[Path | None, typer.Option(help="NAME=value file (outside the trajectory).")] = None,
        approve: Annotated[list[str] | None, typer.Option(help="Actions to refuse (no person approves an MCP client's actions here): navigate, type, key:ctrl+*, url:*checkout*.")] = None,
        xvfb: Annotated[str | None, typer.Option(help="desktop: a private Xvfb of this size, WxH[xD].")] = None,
        launch: Annotated[str | None, typer.Option(help="desktop: command that starts the app.")] = None,
        window: Annotated[str | None, typer.Option(help="desktop: regex of the app window's title to wait for.")] = None,
        display: Annotated[str | None, typer.Option(help="desktop: X display (default $DISPLAY).")] = None,
        share: Annotated[bool, typer.Option(help="Trajectory files as the umask says (default: owner only).")] = False,
    ) -> None:
        """Serve an env as computer-use tools to an MCP client (stdio by default); every call is a recorded step."""
        from guiagent.agent.mcp_server import McpDriver, serve_http, serve_stdio
        from guiagent.agent.run_options import RunOptions
        from guiagent.agent.runner import ConfigError

        options = RunOptions(
            env=env, demo_site=demo_site, start_url=start_url, max_steps=max_steps, viewport=viewport, scale=scale,
            headed=headed, chromium=chromium, allow=allow, block=block, secret=secret, secrets_file=secrets_file,
            approve=approve, xvfb=xvfb, launch=launch, window=window, display=display, share=share,
            private_network=private_network if private_network is not None else demo_site)
        try:
            spec = options.spec()
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(exit_usage) from None
        driver = McpDriver(spec, out)
        if http:
            serve_http(driver, host, port)
        else:
            serve_stdio(driver)
