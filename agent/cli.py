"""The ``guiagent`` command line. Exit codes: 0 task succeeded, 1 task failed (or the computer under it:
resumable), 2 bad usage or config, 130 interrupted (Ctrl-C, SIGTERM: resumable)."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape

from guiagent.agent.loop import EpisodeResult, LoopConfig
from guiagent.agent.runner import (
    ConfigError,
    EpisodeInterrupted,
    RunSpec,
    demo_script_path,
    desktop_demo_spec,
    resume_command,
    resume_episode,
    start_episode,
)
from guiagent.agent.trajectory import StepRecord, TrajectoryError
from guiagent.envs import EnvError
from guiagent.envs.browser import BrowserConfig
from guiagent.envs.desktop import DesktopConfig
from guiagent.envs.xvfb import parse_screen
from guiagent.policies import PolicyError
from guiagent.policies.media import VideoConfig
from guiagent.policies.vlm import VLMConfig
from guiagent.agent.safeguards import AWAITING, owner_only, terminal_approver
from guiagent.tools.geometry import MAX_PIXELS
from guiagent.tools.secrets import SecretSpec
from guiagent.tools.urlpolicy import UrlPolicy
from guiagent.tools.targets import ResolvedTarget, Target

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Let a vision-language model use a computer.")
console = Console(highlight=False, soft_wrap=True)
# Messages carry user text (paths, '[export]', model output): printed as they are, never as markup.
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it; SIGTERM stops a run the same way


def _describe_actions(record: StepRecord) -> str:
    parts = []
    for action in record.actions:
        fields = {k: v for k, v in action.items() if k != "action"}
        args = " ".join(f"{v}" if k in ("coordinate", "keys") else f"{k}={v!r}" for k, v in fields.items())
        parts.append(f"{action['action']} {args}".strip())
    return "; ".join(parts) or ("[red]unparseable answer[/red]" if record.format_error else "-")


def _describe_target(resolved: ResolvedTarget) -> str:
    """``role button 'Sign in' (dom)``, ``describe 'the Save button' (model, healed: ...)``."""
    how = resolved.source or "unresolved"
    if resolved.healed:
        how += f", healed: {resolved.reason}"
    return f"{Target.model_validate(resolved.target).label()} ({how})"


def _print_step(record: StepRecord, max_steps: int) -> None:
    ok = all(r.ok for r in record.results) and all(c.result.ok for c in record.checks)
    mark = "[green]ok[/green]" if ok else "[red]failed[/red]"
    t = record.timings_ms
    timings = "  ".join(f"{k} {t[k]:.0f}ms" for k in ("capture", "decide", "execute") if k in t)
    if record.usage and "prompt_tokens" in record.usage:
        u = record.usage
        timings += f"  tokens {u['prompt_tokens']}+{u.get('completion_tokens', 0)} (visual {u.get('image_tokens', 0) + u.get('video_tokens', 0)})"
    label = f" [dim]{escape(record.label)}[/dim]" if record.label else ""
    targets = "".join(f"  [dim]<- {escape(_describe_target(t))}[/dim]" for t in record.targets)
    console.print(f"step {record.index + 1:>3}/{max_steps}  {escape(_describe_actions(record))}{targets}  {mark}{label}  [dim]{timings}[/dim]")
    for r in record.results:
        if not r.ok:
            console.print(f"           [red]{escape(r.message)}[/red]")
    if record.format_error:
        console.print(f"           [red]{escape(record.format_error)}[/red]")


def _summary(result: EpisodeResult, out: Path, started: float) -> int:
    color = "green" if result.status == "success" else "red"
    console.print(
        f"[bold {color}]{result.status}[/bold {color}] after {result.steps} steps in {time.time() - started:.1f}s"
        + (f": {escape(result.reason)}" if result.reason else "")
    )
    if result.answer:
        console.print(f"answer: {escape(result.answer)}")
    console.print(f"trajectory: {out}")
    if result.status == "error":
        console.print(f"the computer under the agent failed, not the task; resume with: {escape(resume_command(out))}")
    if result.status == AWAITING:
        console.print(f"answer it: guiagent approve {out} (or --deny, with --note TEXT)")
    return EXIT_OK if result.status == "success" else EXIT_FAILED


def _size(text: str, option: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d+)x(\d+)", text)
    if not m:
        raise ConfigError(f"{option} must look like 1280x800, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _note(text: str) -> None:
    console.print(f"[yellow]note:[/yellow] {escape(text)}")


def _execute(fn, out: Path) -> None:
    started = time.time()
    try:
        result = fn()
    except EpisodeInterrupted as stop:
        result = stop.result
        console.print(f"[bold red]interrupted[/bold red] during step {result.steps + 1}, after {result.steps} "
                      f"recorded steps in {time.time() - started:.1f}s")
        console.print(f"trajectory: {stop.root}")
        console.print(f"resume with: {escape(resume_command(stop.root))}")
        raise typer.Exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        err.print("interrupted before the episode started: nothing was recorded")
        raise typer.Exit(EXIT_INTERRUPTED)
    except (ConfigError, TrajectoryError) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        err.print(f"error: invalid setting {where}: {first['msg'].removeprefix('Value error, ')}")
        raise typer.Exit(EXIT_USAGE)
    except (EnvError, PolicyError) as exc:  # could not even start (no Chromium, unreadable script)
        err.print(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(_summary(result, out, started))


def _default_out(prefix: str) -> Path:
    return Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


@app.command()
def run(
    policy: Annotated[str, typer.Option(help="script, or vlm (Qwen2.5-VL on an OpenAI-compatible server)")] = "script",
    script: Annotated[Optional[Path], typer.Option(help="Script file for --policy script.")] = None,
    task: Annotated[Optional[str], typer.Option(help="The task, in words (defaults to the script's).")] = None,
    start_url: Annotated[Optional[str], typer.Option(help="Page to open first.")] = None,
    max_steps: Annotated[int, typer.Option(min=1)] = 50,
    out: Annotated[Optional[Path], typer.Option(help="Trajectory folder (default runs/run-TIME).")] = None,
    resume: Annotated[Optional[Path], typer.Option(help="Continue the stopped episode in this folder.")] = None,
    env: Annotated[str, typer.Option(help="browser (Playwright) or desktop (X11: mss + pyautogui)")] = "browser",
    xvfb: Annotated[Optional[str], typer.Option(help="desktop: run a private Xvfb of this size, WxH[xD].")] = None,
    launch: Annotated[Optional[str], typer.Option(help="desktop: command that starts the app under test.")] = None,
    window: Annotated[Optional[str], typer.Option(help="desktop: regex of the app window's title to wait for.")] = None,
    monitor: Annotated[int, typer.Option(min=0, help="desktop: 0 the whole screen, N monitor N.")] = 0,
    display: Annotated[Optional[str], typer.Option(help="desktop: X display (default $DISPLAY).")] = None,
    headed: Annotated[bool, typer.Option(help="Show the browser window.")] = False,
    viewport: Annotated[str, typer.Option(help="Viewport in CSS pixels, WxH.")] = "1280x800",
    scale: Annotated[float, typer.Option(help="Device scale factor (2 for a HiDPI screen).")] = 1.0,
    chromium: Annotated[Optional[str], typer.Option(help="Chromium binary (default: Debian's /usr/bin/chromium).")] = None,
    demo_site: Annotated[bool, typer.Option(help="Serve the bundled demo site; relative URLs point at it.")] = False,
    model_url: Annotated[str, typer.Option(help="vlm: the server's OpenAI-compatible root.")] = "http://127.0.0.1:8000/v1",
    model: Annotated[str, typer.Option(help="vlm: the served model name.")] = "Qwen/Qwen2.5-VL-7B-Instruct",
    protocol: Annotated[str, typer.Option(help="vlm: tool-call or function-result-return.")] = "tool-call",
    constrained: Annotated[bool, typer.Option(help="vlm: force well-formed answers (vLLM structured outputs).")] = False,
    video_fps: Annotated[float, typer.Option(help="vlm: frame rate of the recent-past clip (2/fps whole).")] = 1.0,
    history_seconds: Annotated[float, typer.Option(help="vlm: how far back the clip reaches (0: no video).")] = 30.0,
    max_pixels: Annotated[int, typer.Option(help="vlm: smart_resize's max pixels for the screenshot.")] = MAX_PIXELS,
    video_tokens: Annotated[int, typer.Option(help="vlm: the clip's visual-token budget.")] = 768,
    max_format_errors: Annotated[int, typer.Option(min=0, help="Unparseable answers in a row before failing.")] = 3,
    sample_fps: Annotated[Optional[float], typer.Option(help="Keep frames that change between steps at this rate (default: the video fps for vlm, else off).")] = None,
    allow: Annotated[Optional[list[str]], typer.Option(help="browser: only these hosts (example.com, *.example.com, 10.0.0.0/8); repeatable.")] = None,
    block: Annotated[Optional[list[str]], typer.Option(help="browser: never these hosts; repeatable.")] = None,
    allow_scheme: Annotated[Optional[list[str]], typer.Option(help="browser: a scheme beyond http and https (e.g. data); repeatable.")] = None,
    private_network: Annotated[Optional[bool], typer.Option("--private-network/--no-private-network", help="browser: reach localhost and private addresses (default: off for vlm, on for scripts and --demo-site).")] = None,
    secret: Annotated[Optional[list[str]], typer.Option(help="A secret used as {{NAME}}, its value from $NAME or --secrets-file; NAME@domain,... limits where it is typed.")] = None,
    secrets_file: Annotated[Optional[Path], typer.Option(help="NAME=value file (keep it outside the trajectory).")] = None,
    pass_env: Annotated[Optional[list[str]], typer.Option(help="An environment variable the browser or app may see; repeatable.")] = None,
    approve: Annotated[Optional[list[str]], typer.Option(help="Ask a person before matching actions: navigate, type, key:ctrl+*, url:*checkout*, terminate.")] = None,
    share: Annotated[bool, typer.Option(help="Trajectory files as the umask says (default: owner only).")] = False,
    demo_layout: Annotated[str, typer.Option(help="With --demo-site: default, or moved (controls moved and restyled).")] = "default",
    cache: Annotated[Optional[Path], typer.Option(help="script: the action cache of grounded points (default SCRIPT.cache.json).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="script: ground every describe target, keep nothing.")] = False,
    refresh_cache: Annotated[bool, typer.Option("--refresh-cache", help="script: ground every describe target again and rewrite the cache.")] = False,
) -> None:
    """Run an episode (or continue one with --resume)."""
    if resume is not None:
        _execute(lambda: resume_episode(resume, on_step=_print_step, approver=terminal_approver(), on_note=_note),
                 resume)
        return
    target = out or _default_out("run")

    def go() -> EpisodeResult:
        if env not in ("browser", "desktop"):
            raise ConfigError(f"--env must be browser or desktop, got {env!r}")
        if xvfb is not None:
            try:
                parse_screen(xvfb)
            except ValueError as exc:
                raise ConfigError(f"--xvfb: {exc}") from None
        if policy not in ("script", "vlm"):
            raise ConfigError(f"--policy must be script or vlm, got {policy!r}")
        if protocol not in ("tool-call", "function-result-return"):
            raise ConfigError(f"--protocol must be tool-call or function-result-return, got {protocol!r}")
        if demo_layout not in ("default", "moved"):
            raise ConfigError(f"--demo-layout must be default or moved, got {demo_layout!r}")
        if no_cache and refresh_cache:
            raise ConfigError("--no-cache and --refresh-cache exclude each other")
        width, height = _size(viewport, "--viewport")
        fps = sample_fps if sample_fps is not None else (video_fps if policy == "vlm" and history_seconds > 0 else 0.0)
        vlm = None
        if policy == "vlm" or script is not None:  # a script's describe targets are grounded by this model
            vlm = VLMConfig(
                base_url=model_url, model=model, protocol=protocol, constrained=constrained, max_pixels=max_pixels,
                video=VideoConfig(fps=video_fps, history_seconds=history_seconds, token_budget=video_tokens),
            )
        private = private_network if private_network is not None else (policy != "vlm" or demo_site)
        try:
            url_policy = UrlPolicy(allow=allow or [], block=block or [], private_network=private,
                                   schemes=["http", "https", *(allow_scheme or [])])
            secrets = [SecretSpec.parse(s) for s in secret or []]
        except (ValueError, ValidationError) as exc:
            raise ConfigError(_first_error(exc)) from None
        spec = RunSpec(
            env=env, policy=policy, vlm=vlm,
            desktop=DesktopConfig(display=display, xvfb=xvfb, launch=launch, window=window, monitor=monitor,
                                  sample_fps=fps, pass_env=pass_env or []),
            browser=BrowserConfig(executable_path=chromium, headless=not headed, viewport_width=width,
                                  viewport_height=height, device_scale_factor=scale, sample_fps=fps,
                                  url_policy=url_policy, pass_env=pass_env or []),
            script=str(script) if script else None, task=task, start_url=start_url,
            cache=str(cache) if cache else None,
            cache_mode="off" if no_cache else "refresh" if refresh_cache else "use",
            demo_site=demo_site, demo_layout=demo_layout,
            loop=LoopConfig(max_steps=max_steps, max_format_errors=max_format_errors),
            secrets=secrets, secrets_file=str(secrets_file) if secrets_file else None,
            approve=[{"rule": r} for r in approve or []], share=share,
        )
        return start_episode(spec, target, on_step=_print_step, approver=terminal_approver())

    _execute(go, target)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return exc.errors()[0]["msg"].removeprefix("Value error, ")
    return str(exc)


@app.command()
def approve(
    trajectory: Annotated[Path, typer.Argument(help="The episode folder awaiting approval.")],
    deny: Annotated[bool, typer.Option("--deny", help="Refuse the action: the model is told, the episode goes on.")] = False,
    note: Annotated[Optional[str], typer.Option(help="Words for the model with the answer.")] = None,
) -> None:
    """Answer an episode that stopped awaiting approval, and let it go on."""
    answer = {"approved": not deny, "note": note}
    _execute(lambda: resume_episode(trajectory, on_step=_print_step, approval=answer,
                                    approver=terminal_approver()), trajectory)


@app.command()
def demo(
    out: Annotated[Optional[Path], typer.Option(help="Trajectory folder (default runs/demo-TIME).")] = None,
    env: Annotated[str, typer.Option(help="browser: the demo site in Chromium; desktop: a Tk app under Xvfb.")] = "browser",
    headed: Annotated[bool, typer.Option(help="Show the browser window.")] = False,
    scale: Annotated[float, typer.Option(help="Device scale factor.")] = 1.0,
    chromium: Annotated[Optional[str], typer.Option(help="Chromium binary.")] = None,
    layout: Annotated[str, typer.Option(help="browser: the site's layout, default or moved (controls moved and restyled).")] = "default",
    targets: Annotated[bool, typer.Option(help="browser: the script with selector/text/role targets instead of coordinates.")] = False,
) -> None:
    """Run the bundled demo task, headless, and record it."""
    target = out or _default_out(f"demo-{env}" if env != "browser" else "demo")
    if env == "desktop":
        spec = desktop_demo_spec(target)
        console.print(f"demo: the bundled desktop task on a private Xvfb, recording to {target}")
    elif env == "browser":
        if layout not in ("default", "moved"):
            err.print(f"error: --layout must be default or moved, got {layout!r}")
            raise typer.Exit(EXIT_USAGE)
        spec = RunSpec(
            browser=BrowserConfig(executable_path=chromium, headless=not headed, device_scale_factor=scale),
            script=str(demo_script_path(targets=targets)), demo_site=True, demo_layout=layout,
            loop=LoopConfig(max_steps=40),
        )
        console.print(f"demo: the bundled task on the bundled site, recording to {target}")
    else:
        err.print(f"error: --env must be browser or desktop, got {env!r}")
        raise typer.Exit(EXIT_USAGE)
    _execute(lambda: start_episode(spec, target, on_step=_print_step), target)


@app.command()
def replay(
    trajectory: Annotated[Path, typer.Argument(help="The recorded trajectory folder.")],
    mode: Annotated[str, typer.Option(help="strict: stop at the first divergence; lenient: go on and report.")] = "strict",
    out: Annotated[Optional[Path], typer.Option(help="Folder for the replay's own trajectory (default runs/replay-TIME).")] = None,
    threshold: Annotated[float, typer.Option(help="Similarity (SSIM of thumbnails) under which a step diverges.")] = 0.95,
) -> None:
    """Re-execute a trajectory on a fresh env, verifying each step against its recording."""
    from guiagent.agent.replay import replay_trajectory

    if mode not in ("strict", "lenient"):
        err.print(f"error: --mode must be strict or lenient, got {mode!r}")
        raise typer.Exit(EXIT_USAGE)
    target = out or _default_out("replay")
    started = time.time()
    try:
        result, report = replay_trajectory(trajectory, target, mode, threshold, on_step=_print_step)  # type: ignore[arg-type]
    except (ConfigError, TrajectoryError) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE)
    except (EnvError, PolicyError) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE)
    for problem in report.skipped:
        console.print(f"[yellow]skipped:[/yellow] {escape(problem)}")
    for d in report.divergences:
        score = f"{d['similarity']:.3f}" if d["similarity"] is not None else "-"
        console.print(f"[red]diverged[/red] at step {d['step'] + 1} (similarity {score}): {escape('; '.join(d['reasons']))}")
    console.print(f"report: {target / 'divergence.txt'}")
    code = _summary(result, target, started)
    raise typer.Exit(EXIT_FAILED if report.divergences else code)


@app.command()
def export(
    trajectories: Annotated[list[Path], typer.Argument(help="Trajectory folders.")],
    format: Annotated[str, typer.Option("--format", help="llamafactory, swift, qwenvl or trl.")] = "llamafactory",
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder for the dataset.")] = Path("export"),
    protocol: Annotated[str, typer.Option(help="Target format: tool-call or function-result-return.")] = "tool-call",
    max_pixels: Annotated[int, typer.Option(help="The trainer's max_pixels: labels are computed for it.")] = 1280 * 28 * 28,
    min_pixels: Annotated[int, typer.Option(help="The trainer's min_pixels.")] = 4 * 28 * 28,
    history_images: Annotated[int, typer.Option(help="Earlier screenshots per sample, as images.")] = 2,
    per_episode: Annotated[bool, typer.Option(help="One multi-turn sample per episode.")] = False,
    only_success: Annotated[bool, typer.Option(help="Only episodes that succeeded.")] = False,
    exclude_resumed: Annotated[bool, typer.Option(help="Leave out resumed episodes (client-side state may have been lost between their segments).")] = False,
    keep_unparsed: Annotated[bool, typer.Option(help="Keep steps whose model output did not parse.")] = False,
    replay_report: Annotated[Optional[list[Path]], typer.Option(help="divergence.json of a replay: drop its divergent steps.")] = None,
    share: Annotated[bool, typer.Option(help="Files as the umask says (default: owner only).")] = False,
) -> None:
    """Turn trajectories into SFT data for a Qwen2.5-VL trainer."""
    from guiagent.agent.export import ExportOptions, build_samples, write_dataset
    from guiagent.agent.export.samples import load_divergent

    try:
        if protocol not in ("tool-call", "function-result-return"):
            raise ConfigError(f"--protocol must be tool-call or function-result-return, got {protocol!r}")
        options = ExportOptions(
            protocol=protocol, max_pixels=max_pixels, min_pixels=min_pixels, history_images=history_images,
            per_episode=per_episode, only_success=only_success, exclude_resumed=exclude_resumed, keep_unparsed=keep_unparsed,
            divergent=load_divergent(replay_report or []),
        )
        samples, skipped = build_samples(trajectories, options)
        if not samples:
            raise ConfigError("nothing to export: " + ("; ".join(f"{s.source}: {s.reason}" for s in skipped) or "no steps"))
        with owner_only(output, share):
            data, warnings = write_dataset(samples, output, format, options)
    except (ConfigError, TrajectoryError, ValueError, RuntimeError, OSError) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE)
    for s in skipped:
        console.print(f"[yellow]skipped[/yellow] {escape(s.source)}: {escape(s.reason)}")
    for w in warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(w)}")
    console.print(f"{len(samples)} samples for {format} in {output / data} (settings: {output / 'TRAINING.md'})")


@app.command()
def view(
    trajectory: Annotated[Path, typer.Argument(help="The trajectory folder.")],
    output: Annotated[Optional[Path], typer.Option("-o", "--output", help="The HTML report (default DIR/report.html).")] = None,
    mp4: Annotated[Optional[Path], typer.Option(help="Also write the episode as an mp4.")] = None,
    gif: Annotated[Optional[Path], typer.Option(help="Also write the episode as a GIF.")] = None,
    share: Annotated[bool, typer.Option(help="Files as the umask says (default: owner only).")] = False,
) -> None:
    """Write a self-contained HTML report of a trajectory (and an mp4 or GIF of it)."""
    from guiagent.agent.report import render_html, write_gif, write_mp4
    from guiagent.agent.trajectory import load_trajectory

    try:
        traj = load_trajectory(trajectory)
        target = output or trajectory / "report.html"
        with owner_only(target.parent, share):
            target.write_text(render_html(traj), encoding="utf-8")
            if mp4:
                write_mp4(traj, mp4)
            if gif:
                write_gif(traj, gif)
    except (TrajectoryError, ValueError, OSError) as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(EXIT_USAGE)
    for problem in traj.problems:
        console.print(f"[yellow]note:[/yellow] {escape(problem)}")
    console.print(f"report: {target}" + (f"; video: {mp4}" if mp4 else "") + (f"; gif: {gif}" if gif else ""))


@app.command()
def doctor(
    model_url: Annotated[str, typer.Option(help="The server's OpenAI-compatible root.")] = "http://127.0.0.1:8000/v1",
    model: Annotated[Optional[str], typer.Option(help="The model to probe (default: the first served).")] = None,
    max_pixels: Annotated[int, typer.Option(help="smart_resize's max pixels for the screenshot.")] = MAX_PIXELS,
    video_fps: Annotated[float, typer.Option(help="Clip frame rate.")] = 1.0,
    history_seconds: Annotated[float, typer.Option(help="Clip length.")] = 30.0,
) -> None:
    """Check a model server: reachable, models served, images + video accepted, visual tokens per step."""
    from guiagent.agent.doctor import run_doctor

    try:
        ok = run_doctor(console, model_url, model, max_pixels, VideoConfig(fps=video_fps, history_seconds=history_seconds))
    except ValidationError as exc:
        err.print(f"error: {exc.errors()[0]['msg']}")
        raise typer.Exit(EXIT_USAGE)
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
