"""The ``guiagent`` command line. Exit codes: 0 task succeeded (a check verified it), 1 task failed (or the computer
or model server under it: resumable), 2 bad usage or config, 3 unverified (the policy says it is done; nothing
checked it), 130 interrupted (Ctrl-C, SIGTERM: resumable).

Only typer and the standard library load at start-up: each command imports what it needs when it runs,
so ``--help`` and usage errors answer at once (tests/agent/test_cli_startup.py counts the modules).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from guiagent.agent.cli_common import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNVERIFIED,
    EXIT_USAGE,
    FlagGroup,
    default_out,
    execute,
    exit_code,
    plain_flags,
    refuse_finished,
    setting_error,
    suite_task,
    with_options_of,
)

if TYPE_CHECKING:
    from guiagent.agent.cli_output import Output

__all__ = ["EXIT_FAILED", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_UNVERIFIED", "EXIT_USAGE", "app", "exit_code", "main"]

app = typer.Typer(cls=FlagGroup, add_completion=False, no_args_is_help=True, help="Let a vision-language model use a computer.")

EnvKind = Literal["browser", "desktop"]
ProtocolName = Literal["tool-call", "function-result-return"]
# The names of policies/families/ (kept literal so --help loads nothing; tests/policies/test_families.py checks them).
FamilyName = Literal["qwen2.5-vl", "qwen2-vl", "qwen-vl", "internvl2.5", "pixtral", "qwen3-vl", "ui-tars-1.5", "opencua"]


class _Settings:
    """The global options, set by the callback before any command runs."""

    verbose = 0
    quiet = False


def _version(value: bool) -> None:
    if value:
        from guiagent import __version__

        typer.echo(f"guiagent {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="Log what happens (-vv: debug) on stderr.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the result and errors.")] = False,
) -> None:
    """Let a vision-language model use a computer."""
    _Settings.verbose, _Settings.quiet = verbose, quiet


def _output(json_mode: bool = False) -> Output:
    from guiagent.agent.cli_output import Output, setup_logging

    setup_logging(_Settings.verbose, _Settings.quiet)
    return Output(quiet=_Settings.quiet, json_mode=json_mode)


@app.command()
def run(
    policy: Annotated[Literal["script", "vlm", "oracle"], typer.Option(help="script, vlm (Qwen2.5-VL on an OpenAI-compatible server), or oracle (with --suite: the task's DOM oracle).")] = "script",
    script: Annotated[Path | None, typer.Option(help="Script file for --policy script.")] = None,
    task: Annotated[str | None, typer.Option(help="The task, in words (defaults to the script's); with --suite, the id of the suite's task to run.")] = None,
    suite: Annotated[str | None, typer.Option(help="Run one task of this suite (a task file, or demo, desktop, miniwob) as a single episode, with its start, check or reward, limits and script; --task names the task's id.")] = None,
    seed: Annotated[int | None, typer.Option(help="With --suite: the seed of a page task (default: the task's first).")] = None,
    start_url: Annotated[str | None, typer.Option(help="Page to open first.")] = None,
    max_steps: Annotated[int, typer.Option(min=1)] = 50,
    success: Annotated[list[str] | None, typer.Option(help="The success check, run on the final world: url:REGEX, text:TEXT, selector:CSS, js:EXPR, window:REGEX, or a JSON/YAML object ({\"url\": \"/list$\"}); repeatable (all must hold).")] = None,
    judge_url: Annotated[str | None, typer.Option(help="A judge: a second model's OpenAI-compatible root; it is shown the task, the final answer and the last frames and gives a verdict, recorded under verified (it decides only where no rule or reward checked).")] = None,
    judge_model: Annotated[str | None, typer.Option(help="The judge's served model name (with --judge-url).")] = None,
    judge_frames: Annotated[int, typer.Option(min=1, max=16, help="The last frames the judge is shown (the final screen included).")] = 3,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Trajectory folder (default runs/run-TIME).")] = None,
    resume: Annotated[Path | None, typer.Option(help="Continue the stopped episode in this folder.")] = None,
    env: Annotated[EnvKind, typer.Option(help="browser (Playwright) or desktop (X11: mss + XTest).")] = "browser",
    xvfb: Annotated[str | None, typer.Option(help="desktop: run a private Xvfb of this size, WxH[xD].")] = None,
    launch: Annotated[str | None, typer.Option(help="desktop: command that starts the app under test.")] = None,
    window: Annotated[str | None, typer.Option(help="desktop: regex of the app window's title to wait for.")] = None,
    monitor: Annotated[int, typer.Option(min=0, help="desktop: 0 the whole screen, N monitor N.")] = 0,
    display: Annotated[str | None, typer.Option(help="desktop: X display (default $DISPLAY).")] = None,
    a11y: Annotated[bool, typer.Option("--a11y", help="desktop: run the AT-SPI bus: role/name and text targets resolve through it, and each step records the apps' accessibility tree.")] = False,
    sandbox: Annotated[bool | None, typer.Option("--sandbox/--no-sandbox", help="desktop: run the app under bubblewrap with a fresh HOME and no network (default: as the task says; off for an app run's own launch command).")] = None,
    network: Annotated[bool, typer.Option("--network", help="desktop: give the sandboxed app the network (recorded in meta.json and the report).")] = False,
    headed: Annotated[bool, typer.Option(help="Show the browser window.")] = False,
    viewport: Annotated[str, typer.Option(help="Viewport in CSS pixels, WxH.")] = "1280x800",
    scale: Annotated[float, typer.Option(help="Device scale factor (2 for a HiDPI screen).")] = 1.0,
    chromium: Annotated[str | None, typer.Option(help="Chromium binary (default: Debian's /usr/bin/chromium).")] = None,
    profile: Annotated[Path | None, typer.Option(help="A persistent browser profile folder: cookies and storage survive runs and resumes.")] = None,
    demo_site: Annotated[bool, typer.Option(help="Serve the bundled demo site; relative URLs point at it.")] = False,
    model_url: Annotated[str, typer.Option(help="vlm: the server's OpenAI-compatible root.")] = "http://127.0.0.1:8000/v1",
    model: Annotated[str, typer.Option(help="vlm: the served model name.")] = "Qwen/Qwen2.5-VL-7B-Instruct",
    model_family: Annotated[FamilyName, typer.Option(help="vlm: the model's family: its resize, coordinate space, prompt and answer forms.")] = "qwen2.5-vl",
    protocol: Annotated[ProtocolName, typer.Option(help="vlm: the model's function-call protocol.")] = "tool-call",
    constrained: Annotated[bool, typer.Option(help="vlm: force well-formed answers (vLLM structured outputs).")] = False,
    video_fps: Annotated[float, typer.Option(help="vlm: frame rate of the recent-past clip (2/fps whole).")] = 1.0,
    history_seconds: Annotated[float, typer.Option(help="vlm: how far back the clip reaches (0: no video).")] = 30.0,
    max_pixels: Annotated[int | None, typer.Option(help="vlm: the resize's max pixels for the screenshot [default: the family's].")] = None,
    video_tokens: Annotated[int, typer.Option(help="vlm: the clip's visual-token budget.")] = 768,
    max_format_errors: Annotated[int, typer.Option(min=0, help="Unparseable answers in a row before failing.")] = 3,
    sample_fps: Annotated[float | None, typer.Option(help="Keep frames that change between steps at this rate (default: the video fps for vlm, else off).")] = None,
    allow: Annotated[list[str] | None, typer.Option(help="browser: only these hosts (example.com, *.example.com, 10.0.0.0/8); repeatable.")] = None,
    block: Annotated[list[str] | None, typer.Option(help="browser: never these hosts; repeatable.")] = None,
    allow_scheme: Annotated[list[str] | None, typer.Option(help="browser: a scheme beyond http and https (e.g. data); repeatable.")] = None,
    private_network: Annotated[bool | None, typer.Option("--private-network/--no-private-network", help="browser: reach localhost and private addresses (default: off for vlm, on for scripts and the bundled sites).")] = None,
    secret: Annotated[list[str] | None, typer.Option(help="A secret used as {{NAME}}, its value from $NAME or --secrets-file; NAME@domain,... limits where it is typed.")] = None,
    secrets_file: Annotated[Path | None, typer.Option(help="NAME=value file (keep it outside the trajectory).")] = None,
    pass_env: Annotated[list[str] | None, typer.Option(help="An environment variable the browser or app may see; repeatable.")] = None,
    upload_dir: Annotated[Path | None, typer.Option(help="browser: the only folder a page's file chooser may take files from (the model types a file's name); without it uploads are refused.")] = None,
    approve: Annotated[list[str] | None, typer.Option(help="Ask a person before matching actions: navigate, type, key:ctrl+*, url:*checkout*, terminate.")] = None,
    approval_timeout: Annotated[float, typer.Option(min=0, help="Unattended: seconds to wait, the page kept, for `guiagent approve DIR` before stopping awaiting approval (0: stop at once).")] = 300.0,
    resume_anyway: Annotated[bool, typer.Option(help="With --resume: if the replay that rebuilds the world diverges, go on from there (the segment is marked).")] = False,
    share: Annotated[bool, typer.Option(help="Trajectory files as the umask says (default: owner only).")] = False,
    demo_layout: Annotated[Literal["default", "moved"], typer.Option(help="The bundled demo site's layout: default, or moved (controls moved and restyled).")] = "default",
    cache: Annotated[Path | None, typer.Option(help="script: the action cache of grounded points (default SCRIPT.cache.json).")] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="script: ground every describe target, keep nothing.")] = False,
    refresh_cache: Annotated[bool, typer.Option("--refresh-cache", help="script: ground every describe target again and rewrite the cache.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON result on stdout (steps go to stderr).")] = False,
    live: Annotated[bool, typer.Option(help="Serve a live view (watch, approve, pause, take over) at a URL printed once.")] = False,
    live_host: Annotated[str, typer.Option(help="With --live: the address the view listens on (default this machine only).")] = "127.0.0.1",
) -> None:
    """Run an episode (or continue one with --resume)."""
    output = _output(json_out)
    from guiagent.agent.run_options import RunOptions
    from guiagent.agent.runner import resume_episode, start_episode
    from guiagent.agent.safeguards import terminal_approver

    if resume is not None and live:
        output.error("--live starts a new episode's view; to watch a resumed one, run guiagent watch DIR beside it")
        raise typer.Exit(EXIT_USAGE)
    if resume is not None:
        refuse_finished(resume, output)
        execute(lambda: resume_episode(resume, on_step=output.step, approver=terminal_approver(), anyway=resume_anyway,
                                       wait_approval=True, on_note=lambda text: output.line(f"note: {text}", "yellow")),
                resume, output)
        return
    options = RunOptions(
        env=env, policy=policy, script=script, task=task, start_url=start_url, max_steps=max_steps,
        max_format_errors=max_format_errors, success=success, judge_url=judge_url, judge_model=judge_model,
        judge_frames=judge_frames, xvfb=xvfb, launch=launch, window=window, monitor=monitor, display=display, a11y=a11y,
        sandbox=sandbox, network=network, headed=headed, viewport=viewport, scale=scale, chromium=chromium, profile=profile,
        demo_site=demo_site, demo_layout=demo_layout, model_url=model_url, model=model, model_family=model_family,
        protocol=protocol, constrained=constrained, video_fps=video_fps, history_seconds=history_seconds,
        max_pixels=max_pixels, video_tokens=video_tokens, sample_fps=sample_fps, allow=allow, block=block,
        allow_scheme=allow_scheme, private_network=private_network, secret=secret, secrets_file=secrets_file,
        pass_env=pass_env, upload_dir=upload_dir, approve=approve, approval_timeout=approval_timeout, share=share,
        cache=cache, no_cache=no_cache, refresh_cache=refresh_cache)
    target = out or default_out("run")
    if suite is not None:
        execute(lambda: suite_task(options, suite, seed, target, output), target, output)
        return
    if live:
        from guiagent.agent.live import live_episode

        execute(lambda: live_episode(options.spec(), target, live_host, output.err.print, on_step=output.step),
                target, output)
        return
    execute(lambda: start_episode(options.spec(), target, on_step=output.step, approver=terminal_approver(),
                                  wait_approval=True), target, output)


# run's options that batch does not take: the suite's task gives them, or they make no sense for many
# episodes at once (a profile, a person to approve, one JSON result).
NOT_FOR_BATCH = {"script", "task", "suite", "seed", "start_url", "success", "out", "resume", "max_steps", "env", "xvfb",
                 "launch", "window", "monitor", "display", "demo_site", "policy", "model_url", "cache", "approve",
                 "profile", "json_out", "approval_timeout", "resume_anyway"}


@app.command()
@with_options_of(run, leaving=NOT_FOR_BATCH)
def batch(
    suites: Annotated[list[str], typer.Argument(help="Suites: demo, desktop, apps, miniwob, task files (.yaml, .jsonl), or OSWorld task JSON (a file or a folder).")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The batch folder: episodes/, results.jsonl, summary.json, index.html (default runs/batch-TIME).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Episodes at once.")] = 2,
    policy: Annotated[Literal["script", "oracle", "vlm"], typer.Option(help="script: each task's script; oracle: the task's DOM oracle; vlm.")] = "script",
    tasks: Annotated[str | None, typer.Option(help="Only these task ids, comma-separated.")] = None,
    seeds: Annotated[str | None, typer.Option(help="Run every task with these seeds, comma-separated.")] = None,
    max_steps: Annotated[int | None, typer.Option(min=1, help="At most this many steps an episode (default: each task's limit).")] = None,
    model_url: Annotated[list[str] | None, typer.Option(help="vlm: a server's OpenAI-compatible root; repeat for several.")] = None,
    engine: Annotated[Literal["local", "ray"], typer.Option(help="local: a process pool; ray: Ray tasks.")] = "local",
    ray_address: Annotated[str | None, typer.Option(help="ray: the cluster to join (default: start a local one).")] = None,
    retries: Annotated[int, typer.Option(min=0, help="Fresh attempts for an episode whose env or model server failed.")] = 2,
    episode_timeout: Annotated[float, typer.Option(help="Seconds an episode may run before its worker is killed.")] = 600.0,
    recycle_after: Annotated[int, typer.Option(min=1, help="Replace a worker after this many episodes.")] = 50,
    run_options: dict[str, Any] | None = None,
) -> None:
    """Run many episodes (suites x seeds) on a local process pool or Ray; run it again to continue."""
    output = _output()
    from pydantic import ValidationError

    from guiagent.agent.batch import BatchError, run_from_cli
    from guiagent.agent.run_options import RunOptions
    from guiagent.agent.runner import ConfigError
    from guiagent.agent.suites import SuiteError

    target = out or default_out("batch")
    urls = model_url or ["http://127.0.0.1:8000/v1"]
    given = {k: v for k, v in (run_options or {}).items() if k not in ("live", "live_host")}
    # The bundled suites' sites are served on 127.0.0.1: reachable unless --no-private-network.
    options = RunOptions.model_validate({**given, "policy": policy, "model_url": urls[0], "demo_site": True})
    from guiagent.agent.cli_drivers import batch_view

    try:
        with batch_view(target, run_options or {}, output.err.print):
            report = run_from_cli(suites, target, options.spec(), desktop=options.desktop(), workers=workers, tasks=tasks, seeds=seeds,
                                  max_steps=max_steps, model_urls=urls if len(urls) > 1 else [], engine=engine,
                                  ray_address=ray_address, retries=retries, episode_timeout_s=episode_timeout,
                                  recycle_after=recycle_after)
    except (ConfigError, SuiteError, BatchError, ValidationError) as exc:
        output.error(setting_error(exc) if isinstance(exc, ValidationError) else str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        from guiagent.agent.batch.cli_lines import continue_command

        output.error(f"interrupted: what finished is in {target / 'results.jsonl'}")
        output.line(f"run the same command to continue: {continue_command(out is None, target)}")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    from guiagent.agent.batch.cli_lines import summary_lines

    for text, style in summary_lines(report.summary, target):
        output.line(text, style)
    raise typer.Exit(EXIT_OK if report.all_ran else EXIT_FAILED)


@app.command()
def approve(
    trajectory: Annotated[Path, typer.Argument(help="The episode folder awaiting approval.")],
    deny: Annotated[bool, typer.Option("--deny", help="Refuse the action: the model is told, the episode goes on.")] = False,
    note: Annotated[str | None, typer.Option(help="Words for the model with the answer.")] = None,
    resume_anyway: Annotated[bool, typer.Option(help="If the replay that rebuilds the world diverges, go on from there (the segment is marked).")] = False,
) -> None:
    """Answer an episode awaiting approval: a run still waiting (its page kept) is told and goes on; one that
    stopped is resumed here, its world rebuilt by replay."""
    output = _output()
    from guiagent.agent.approval_wait import signal_answer, waiting_run
    from guiagent.agent.runner import resume_episode
    from guiagent.agent.safeguards import terminal_approver

    answer = {"approved": not deny, "note": note}
    if (request := waiting_run(trajectory)) is not None and signal_answer(trajectory, answer):
        output.line(f"{'approved' if answer['approved'] else 'denied'}: the waiting run (pid {request.get('pid', '?')}) "
                    f"took the answer and goes on in {trajectory}")
        raise typer.Exit(EXIT_OK)
    execute(lambda: resume_episode(trajectory, on_step=output.step, approval=answer, approver=terminal_approver(),
                                   anyway=resume_anyway, wait_approval=True), trajectory, output)


@app.command()
def demo(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Trajectory folder (default runs/demo-TIME).")] = None,
    env: Annotated[EnvKind, typer.Option(help="browser: the demo site in Chromium; desktop: a Tk app under Xvfb.")] = "browser",
    headed: Annotated[bool, typer.Option(help="Show the browser window.")] = False,
    scale: Annotated[float, typer.Option(help="Device scale factor.")] = 1.0,
    chromium: Annotated[str | None, typer.Option(help="Chromium binary.")] = None,
    layout: Annotated[Literal["default", "moved"], typer.Option(help="browser: the site's layout (moved: controls moved and restyled).")] = "default",
    targets: Annotated[bool, typer.Option(help="browser: the script with selector/text/role targets instead of coordinates.")] = False,
) -> None:
    """Run the bundled demo task, headless, and record it."""
    output = _output()
    from guiagent.agent.loop import LoopConfig
    from guiagent.agent.runner import ConfigError, RunSpec, demo_script_path, desktop_demo_spec, start_episode
    from guiagent.agent.spec import BrowserEnvSpec, ScriptPolicySpec

    target = out or default_out(f"demo-{env}" if env != "browser" else "demo")
    if env == "desktop":
        try:
            spec = desktop_demo_spec(target)
        except ConfigError as exc:  # a missing piece (tkinter): one sentence, nothing recorded
            output.error(str(exc))
            raise typer.Exit(EXIT_USAGE) from None
        output.line(f"demo: the bundled desktop task on a private Xvfb, recording to {target}")
    else:
        spec = RunSpec(
            env=BrowserEnvSpec(executable_path=chromium, headless=not headed, device_scale_factor=scale),
            policy=ScriptPolicySpec(script=str(demo_script_path(targets=targets))), demo_site=True, demo_layout=layout,
            loop=LoopConfig(max_steps=40),
        )
        output.line(f"demo: the bundled task on the bundled site, recording to {target}")
    execute(lambda: start_episode(spec, target, on_step=output.step), target, output)


@app.command()
def replay(
    trajectory: Annotated[Path, typer.Argument(help="The recorded trajectory folder.")],
    mode: Annotated[Literal["strict", "lenient"], typer.Option(help="strict: stop at the first divergence; lenient: go on and report.")] = "strict",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the replay's own trajectory (default runs/replay-TIME).")] = None,
    threshold: Annotated[float, typer.Option(help="Similarity (SSIM of thumbnails) under which a step diverges.")] = 0.95,
) -> None:
    """Re-execute a trajectory on a fresh env, verifying each step against its recording."""
    output = _output()
    from guiagent.agent.outputs import OutputError
    from guiagent.agent.replay import replay_trajectory
    from guiagent.agent.runner import ConfigError
    from guiagent.agent.trajectory import TrajectoryError
    from guiagent.envs import EnvError
    from guiagent.policies import PolicyError
    from guiagent.tools.extras import MissingExtra, need

    target = out or default_out("replay")
    started = time.time()
    try:
        need("numpy", "media", "guiagent replay (it compares frames)")
        result, report = replay_trajectory(trajectory, target, mode, threshold, on_step=output.step)
    except (ConfigError, TrajectoryError, OutputError, EnvError, PolicyError, MissingExtra) as exc:
        output.error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    for problem in report.skipped:
        output.line(f"skipped: {problem}", "yellow")
    for d in report.divergences:
        score = f"{d['similarity']:.3f}" if d["similarity"] is not None else "-"
        output.line(f"diverged at step {d['step'] + 1} (similarity {score}): {'; '.join(d['reasons'])}", "red")
    output.line(f"divergences: {target / 'divergence.txt'}")
    output.result(result, target, started)
    raise typer.Exit(EXIT_FAILED if report.divergences else exit_code(result.status))


@app.command()
def export(
    trajectories: Annotated[list[Path], typer.Argument(help="Trajectory folders, or batch folders (their results.jsonl).")],
    format: Annotated[Literal["llamafactory", "swift", "qwenvl", "trl"], typer.Option("--format", help="The trainer's data format.")] = "llamafactory",
    output: Annotated[Path, typer.Option("--out", "-o", "--output", help="Folder for the dataset.")] = Path("export"),
    protocol: Annotated[ProtocolName, typer.Option(help="Target format of the assistant's calls.")] = "tool-call",
    model_family: Annotated[FamilyName, typer.Option(help="The model family the labels are for: its coordinate space and answer form.")] = "qwen2.5-vl",
    max_pixels: Annotated[int, typer.Option(help="The trainer's max_pixels: labels are computed for it.")] = 1280 * 28 * 28,
    min_pixels: Annotated[int, typer.Option(help="The trainer's min_pixels.")] = 4 * 28 * 28,
    history_images: Annotated[int, typer.Option(help="Earlier screenshots per sample, as images.")] = 2,
    per_episode: Annotated[bool, typer.Option(help="One multi-turn sample per episode.")] = False,
    only_success: Annotated[bool, typer.Option(help="Only episodes a check verified as successes (a rule, a page's reward).")] = False,
    include_unverified: Annotated[bool, typer.Option(help="With --only-success: also episodes whose policy said done where nothing checked it.")] = False,
    exclude_resumed: Annotated[bool, typer.Option(help="Leave out episodes resumed on a world not verified by replay (diverged and resumed anyway); rebuilt-and-verified ones stay.")] = False,
    keep_unparsed: Annotated[bool, typer.Option(help="Keep steps whose model output did not parse.")] = False,
    thought: Annotated[Literal["model", "recorded", "none"], typer.Option(help="The assistant's thought: what a model wrote, whatever the step recorded (a script step's name too), or none.")] = "model",
    replay_report: Annotated[list[Path] | None, typer.Option(help="divergence.json of a replay: drop its divergent steps.")] = None,
    human: Annotated[Literal["keep", "drop", "corrections"], typer.Option(help="A person's steps (live view takeover): keep them as samples, drop them (context only), or export only those corrections.")] = "keep",
    share: Annotated[bool, typer.Option(help="Files as the umask says (default: owner only).")] = False,
) -> None:
    """Turn trajectories into SFT data for a Qwen2.5-VL trainer."""
    out = _output()
    from guiagent.agent.batch.results import expand_batches
    from guiagent.agent.export import ExportOptions, build_samples, write_dataset
    from guiagent.agent.export.samples import load_divergent
    from guiagent.agent.outputs import Kind, check_folder
    from guiagent.agent.runner import ConfigError
    from guiagent.agent.safeguards import owner_only
    from guiagent.agent.trajectory import TrajectoryError

    try:
        check_folder(output, "-o", "export", own=Kind.EXPORT)
        options = ExportOptions(
            family=model_family, protocol=protocol, max_pixels=max_pixels, min_pixels=min_pixels, history_images=history_images,
            per_episode=per_episode, only_success=only_success, include_unverified=include_unverified,
            exclude_resumed=exclude_resumed, keep_unparsed=keep_unparsed,
            thought=thought,
            divergent=load_divergent(replay_report or []), human=human,
        )
        samples, skipped = build_samples(expand_batches(trajectories, only_success, include_unverified), options)
        if not samples:
            raise ConfigError("nothing to export: " + ("; ".join(f"{s.source}: {s.reason}" for s in skipped) or "no steps"))
        with owner_only(output, share):
            data, warnings = write_dataset(samples, output, format, options)
    except (ConfigError, TrajectoryError, ValueError, RuntimeError, OSError) as exc:
        out.error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    for s in skipped:
        out.line(f"skipped {s.source}: {s.reason}", "yellow")
    for w in warnings:
        out.line(f"warning: {w}", "yellow")
    out.line(f"{len(samples)} samples for {format} in {output / data} (settings: {output / 'TRAINING.md'})")


@app.command("script")
def script_command(
    trajectory: Annotated[Path, typer.Argument(help="The trajectory folder (a model's run, a replay, a scripted run).")],
    output: Annotated[Path, typer.Option("--out", "-o", "--output", help="The script file to write.")] = Path("script.yaml"),
) -> None:
    """Turn a trajectory into a script: targets from the elements under its points, checks from what followed."""
    out = _output()
    import yaml

    from guiagent.agent.outputs import FileKind, check_file
    from guiagent.agent.script_from_run import write_script
    from guiagent.agent.trajectory import TrajectoryError, load_trajectory

    try:
        text = write_script(load_trajectory(trajectory))
        check_file(output, "-o", FileKind.SCRIPT)
        output.write_text(text, encoding="utf-8")
    except (TrajectoryError, ValueError, OSError) as exc:
        out.error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    steps = len(yaml.safe_load(text)["steps"])
    out.line(f"script: {output} ({steps} steps); run it with: guiagent run --script {output}")


@app.command()
def view(
    trajectory: Annotated[Path, typer.Argument(help="The trajectory folder.")],
    output: Annotated[Path | None, typer.Option("--out", "-o", "--output", help="The HTML report (default DIR/report.html).")] = None,
    mp4: Annotated[Path | None, typer.Option(help="Also write the episode as an mp4.")] = None,
    gif: Annotated[Path | None, typer.Option(help="Also write the episode as a GIF.")] = None,
    share: Annotated[bool, typer.Option(help="Files as the umask says (default: owner only).")] = False,
) -> None:
    """Write a self-contained HTML report of a trajectory (and an mp4 or GIF of it); for a batch folder,
    each episode's report, linked from its index.html."""
    out = _output()
    from guiagent.agent.batch.results import is_batch, write_reports
    from guiagent.agent.report import write_report_files
    from guiagent.agent.trajectory import TrajectoryError
    from guiagent.tools.extras import MissingExtra

    if is_batch(trajectory):
        if output or mp4 or gif:
            out.error(f"{trajectory} is a batch folder: each episode's report goes into its own folder "
                      "(-o, --mp4 and --gif are for one trajectory)")
            raise typer.Exit(EXIT_USAGE)
        for line in write_reports(trajectory):
            out.line(line)
        return
    try:
        traj, target = write_report_files(trajectory, output, mp4, gif, share)
    except (TrajectoryError, ValueError, OSError, MissingExtra) as exc:
        out.error(str(exc))
        raise typer.Exit(EXIT_USAGE) from None
    for problem in traj.problems:
        out.line(f"note: {problem}", "yellow")
    out.line(f"report: {target}" + (f"; video: {mp4}" if mp4 else "") + (f"; gif: {gif}" if gif else ""))


@app.command()
def doctor(
    model_url: Annotated[str, typer.Option(help="The server's OpenAI-compatible root.")] = "http://127.0.0.1:8000/v1",
    model: Annotated[str | None, typer.Option(help="The model to probe (default: the first served).")] = None,
    model_family: Annotated[FamilyName | None, typer.Option(help="The model's family [default: proposed from the served model's id and config].")] = None,
    max_pixels: Annotated[int | None, typer.Option(help="The resize's max pixels for the screenshot [default: the family's].")] = None,
    video_fps: Annotated[float, typer.Option(help="Clip frame rate.")] = 1.0,
    history_seconds: Annotated[float, typer.Option(help="Clip length.")] = 30.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print one JSON result on stdout.")] = False,
) -> None:
    """Check a model server: reachable, models served, images + video accepted, visual tokens per step."""
    output = _output(json_out)
    from pydantic import ValidationError

    from guiagent.agent.doctor import run_doctor
    from guiagent.policies.media import VideoConfig

    try:
        video = VideoConfig(fps=video_fps, history_seconds=history_seconds)
    except ValidationError as exc:
        output.error(setting_error(exc))
        output.json_error(setting_error(exc), EXIT_USAGE)
        raise typer.Exit(EXIT_USAGE) from None
    ok = run_doctor(output, model_url, model, max_pixels, video, model_family)
    raise typer.Exit(EXIT_OK if ok else EXIT_FAILED)


def _register_drivers() -> None:
    from guiagent.agent.cli_drivers import register  # typer and the standard library only

    register(app, EXIT_USAGE)


_register_drivers()
plain_flags(app)  # after every command is registered


def main() -> None:
    app()


if __name__ == "__main__":
    main()
