"""``guiagent view``: a trajectory as an HTML page, and as an mp4 or a GIF.

A timeline of the steps (each a link, as wide as it took, red where it failed) leads the page. Each
step's screenshot is shown with what was done on it, drawn over it: the point clicked, the drag's path,
the scroll's direction, the keys pressed or the text typed; after a failed step and the last one, the
screen after it; beside it, what the model was sent (text, with the image and the clip as placeholders),
the step's time, and the frames a sampler kept between that step and the next (``--sample-fps``), with
their times.

The page links the trajectory's own frames (relative paths, loaded lazily as they scroll into view)
and draws the actions as SVG over them, so writing it reads no image: its cost is linear in the steps
and bounded per step (each text shown is cut at ``MAX_SHOWN_CHARS``), a 1,000-step report takes well
under a second. Keep the report beside its trajectory (the default, DIR/report.html) or where it can
reach it. The mp4 and the GIF draw the same on the frames themselves.
"""

from __future__ import annotations

import html
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PIL import Image, ImageDraw, ImageFont

from guiagent.agent.outcome import Outcome
from guiagent.agent.outputs import REPORT_MARK
from guiagent.agent.trajectory import StepRecord, Trajectory
from guiagent.tools.extras import need

ACCENT = (230, 40, 90)


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for name in ("DejaVuSans-Bold.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default()


def annotated(traj: Trajectory, step: StepRecord) -> Image.Image:
    """The step's frame with its actions drawn on it (a grey placeholder if the frame is missing)."""
    path = traj.frame_path(step)
    g = step.geometry
    if path.exists():
        image = Image.open(path).convert("RGB")
    else:
        image = Image.new("RGB", (g.width, g.height), (90, 90, 90))
        ImageDraw.Draw(image).text((20, 20), f"frame {step.frame} is missing", fill=(255, 255, 255), font=_font(28))
    draw = ImageDraw.Draw(image)
    r = max(8, g.width // 100)
    width = max(3, g.width // 400)
    banner = []
    for action in step.actions:
        points = {k: g.input_to_captured(tuple(v)) for k, v in action.items() if k in ("coordinate", "start_coordinate")}
        name = action["action"]
        if "start_coordinate" in points:
            (x0, y0), (x1, y1) = points["start_coordinate"], points["coordinate"]
            draw.line([(x0, y0), (x1, y1)], fill=ACCENT, width=width)
            draw.ellipse([x0 - r / 2, y0 - r / 2, x0 + r / 2, y0 + r / 2], fill=ACCENT)
        if "coordinate" in points:
            x, y = points["coordinate"]
            draw.ellipse([x - r, y - r, x + r, y + r], outline=ACCENT, width=width)
            draw.line([(x - 2 * r, y), (x + 2 * r, y)], fill=ACCENT, width=max(1, width // 2))
            draw.line([(x, y - 2 * r), (x, y + 2 * r)], fill=ACCENT, width=max(1, width // 2))
            if name == "scroll":
                dy = -4 * r if action["pixels"] > 0 else 4 * r
                draw.line([(x, y), (x, y + dy)], fill=ACCENT, width=width)
        if name in ("key", "type", "scroll", "wait", "terminate", "navigate", "back"):
            detail = {k: v for k, v in action.items() if k not in ("action", "coordinate")}
            banner.append(f"{name} {json.dumps(detail, ensure_ascii=False)}" if detail else name)
    if banner:
        font = _font(max(14, g.width // 60))
        text = "  |  ".join(banner)
        box = draw.textbbox((0, 0), text, font=font)
        h = box[3] - box[1] + 16
        draw.rectangle([0, image.height - h, image.width, image.height], fill=(0, 0, 0))
        draw.text((10, image.height - h + 6), text, fill=(255, 255, 255), font=font)
    return image


def _filmstrip(traj: Trajectory, step: StepRecord, base: str, most: int = 12) -> str:
    """Thumbnails of the frames shown between this step's observation and the next, with their times."""
    frames = step.context_frames
    if len(frames) > most:  # evenly spread, the last one kept
        frames = [frames[round(k * (len(frames) - 1) / (most - 1))] for k in range(most)]
    cells = [f"<figure><img loading='lazy' decoding='async' alt='{html.escape(str(f['frame']))}' "
             f"src='{_src(base, str(f['frame']))}'><figcaption>{f['t'] - step.t:+.2f} s</figcaption></figure>"
             for f in frames]
    return f"<div class='strip'>{''.join(cells)}</div>" if cells else ""


def _src(base: str, frame: str) -> str:
    """A frame's URL relative to the report: ``base`` (the trajectory, seen from the report's folder) / frame."""
    return html.escape(quote(f"{base}/{frame}" if base not in ("", ".") else frame))


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2430}
header{background:#24324a;color:#fff;padding:16px 24px}header h1{margin:0 0 6px;font-size:20px}
.ok{color:#2e7d32}.bad{color:#c62828}.warn{color:#b26a00}main{padding:16px 24px}
section{background:#fff;border:1px solid #dde2ea;border-radius:6px;margin:0 0 16px;padding:12px 16px}
section h2{font-size:15px;margin:0 0 8px}img{max-width:100%;height:auto;border:1px solid #ccd;display:block}
.shot{position:relative;margin:0}.shot svg{position:absolute;left:1px;top:1px;width:calc(100% - 2px);
height:calc(100% - 2px);pointer-events:none}.banner{position:absolute;left:1px;right:1px;bottom:1px;background:#000;
color:#fff;padding:4px 10px;font-weight:600;white-space:pre-wrap;word-break:break-word}
.missing{background:#5a5a5a;color:#fff;padding:40px 20px;aspect-ratio:16/10}
.grid{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:16px}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:8px;border-radius:4px;margin:4px 0}
dt{font-weight:600;margin-top:6px}dd{margin:0}
.strip{display:flex;flex-wrap:wrap;gap:6px}.strip figure{margin:0;width:120px}
.strip figcaption{font-size:11px;color:#556;text-align:center}
nav#timeline{position:sticky;top:0;z-index:1;background:#fff;border-bottom:1px solid #dde2ea;padding:8px 24px;
display:flex;flex-wrap:wrap;gap:3px;align-items:flex-end}
nav#timeline a{display:block;min-width:18px;height:22px;line-height:22px;text-align:center;font-size:11px;color:#fff;
text-decoration:none;border-radius:3px;background:#2e7d32}nav#timeline a.bad{background:#c62828}
section{scroll-margin-top:56px}.after{margin-top:8px}.after p{margin:0 0 4px;font-weight:600}
.prompt .media{display:inline-block;background:#24324a;color:#fff;border-radius:3px;padding:1px 6px;margin:2px 0}
"""


def _seconds(step: StepRecord) -> float:
    return max(0.0, step.t_end - step.t_start)


def _timeline(traj: Trajectory) -> str:
    """One link per step, its width its duration, red where it failed: jump to any step."""
    if not traj.steps:
        return ""
    longest = max(_seconds(s) for s in traj.steps) or 1.0
    links = []
    for s in traj.steps:
        width = 18 + round(60 * _seconds(s) / longest)
        title = f"step {s.index + 1}: {s.label or ', '.join(a['action'] for a in s.actions) or 'no action'}, {_seconds(s):.2f} s"
        links.append(f"<a href='#step-{s.index + 1}' class='{'bad' if _failed(s) else 'ok'}' style='width:{width}px' "
                     f"title='{html.escape(title)}'>{s.index + 1}</a>")
    return f"<nav id='timeline' aria-label='steps'>{''.join(links)}</nav>"


def _failed(step: StepRecord) -> bool:
    return (any(not r.ok for r in step.results) or any(not c.result.ok for c in step.checks)
            or step.format_error is not None or step.error is not None)


def _after(traj: Trajectory, i: int, base: str) -> str:
    """The screen after a failed step or the episode's last one: the next step's frame, or the one recorded
    when the episode ended."""
    step = traj.steps[i]
    last = i == len(traj.steps) - 1
    if not (last or _failed(step)):
        return ""
    if not last:
        frame, t = traj.steps[i + 1].frame, traj.steps[i + 1].t
    elif step.frame_after:
        frame, t = step.frame_after, step.t_after or step.t_end
    else:
        return ""
    if not (traj.root / frame).exists():
        return ""
    return (f"<div class='after'><p>after the step ({t - step.t:+.2f} s)</p>"
            f"<img loading='lazy' decoding='async' alt='after step {step.index + 1}' src='{_src(base, frame)}'></div>")


def _shot(traj: Trajectory, step: StepRecord, base: str) -> str:
    """The step's frame (linked, not read) with its actions drawn over it in SVG, in the frame's pixels."""
    g = step.geometry
    if not traj.frame_path(step).exists():
        return f"<div class='missing'>frame {html.escape(step.frame)} is missing</div>"
    r = max(8, g.width // 100)
    width = max(3, g.width // 400)
    thin = max(1, width // 2)
    marks, banner = [], []
    for action in step.actions:
        name = str(action.get("action"))
        try:
            points = {k: g.input_to_captured((float(v[0]), float(v[1]))) for k, v in action.items()
                      if k in ("coordinate", "start_coordinate")}
        except (TypeError, ValueError, IndexError):
            points = {}
        if "start_coordinate" in points:
            (x0, y0), (x1, y1) = points["start_coordinate"], points.get("coordinate", points["start_coordinate"])
            marks.append(f"<line x1='{x0:g}' y1='{y0:g}' x2='{x1:g}' y2='{y1:g}' stroke-width='{width}'/>"
                         f"<circle cx='{x0:g}' cy='{y0:g}' r='{r / 2:g}' class='fill'/>")
        if "coordinate" in points:
            x, y = points["coordinate"]
            marks.append(f"<circle cx='{x:g}' cy='{y:g}' r='{r}' stroke-width='{width}'/>"
                         f"<line x1='{x - 2 * r:g}' y1='{y:g}' x2='{x + 2 * r:g}' y2='{y:g}' stroke-width='{thin}'/>"
                         f"<line x1='{x:g}' y1='{y - 2 * r:g}' x2='{x:g}' y2='{y + 2 * r:g}' stroke-width='{thin}'/>")
            if name == "scroll":
                dy = -4 * r if float(action.get("pixels", 0) or 0) > 0 else 4 * r
                marks.append(f"<line x1='{x:g}' y1='{y:g}' x2='{x:g}' y2='{y + dy:g}' stroke-width='{width}'/>")
        if name in ("key", "type", "scroll", "wait", "terminate", "navigate", "back"):
            detail = {k: v for k, v in action.items() if k not in ("action", "coordinate")}
            banner.append(f"{name} {json.dumps(detail, ensure_ascii=False)}" if detail else name)
    color = "rgb({},{},{})".format(*ACCENT)
    svg = (f"<svg viewBox='0 0 {g.width} {g.height}' preserveAspectRatio='none' fill='none' stroke='{color}' "
           f"aria-hidden='true'><style>.fill{{fill:{color}}}</style>{''.join(marks)}</svg>") if marks else ""
    caption = f"<figcaption class='banner'>{html.escape(_clip('  |  '.join(banner)))}</figcaption>" if banner else ""
    return (f"<figure class='shot'><img loading='lazy' decoding='async' alt='step {step.index + 1}' "
            f"width='{g.width}' height='{g.height}' src='{_src(base, step.frame)}'>{svg}{caption}</figure>")


MAX_SHOWN_CHARS = 4_000
"""Most characters of one text (a raw answer, a thought, a prompt's part) the report shows; steps.jsonl has all."""


def _clip(text: str) -> str:
    if len(text) <= MAX_SHOWN_CHARS:
        return text
    return f"{text[:MAX_SHOWN_CHARS]}... [{len(text) - MAX_SHOWN_CHARS} more characters in steps.jsonl]"


def _prompt(step: StepRecord) -> str:
    """The step's own part of what the model was sent: text, placeholders for the image and the clip."""
    prompt = step.policy_info.get("prompt")
    if not isinstance(prompt, dict):
        return ""
    from guiagent.policies.prompts import clock

    esc = html.escape
    out = [f"<p>after {max(0, int(prompt.get('messages', 1)) - 1)} earlier messages (system prompt with the tool, "
           f"task, earlier steps), the {esc(str(prompt.get('role', 'user')))} message:</p>"]
    for part in prompt.get("parts", []):
        if "text" in part:
            out.append(f"<pre>{esc(_clip(str(part['text'])))}</pre>")
        elif "image" in part:
            out.append(f"<span class='media'>image {part['image'].get('width')}x{part['image'].get('height')}</span>")
        elif "video" in part:
            v = part["video"]
            out.append(f"<span class='media'>video: {v.get('frames')} frames at {v.get('fps'):g} fps, "
                       f"{esc(clock(v['t0']))} to {esc(clock(v['t_end']))}</span>")
    return f"<div class='prompt'>{''.join(out)}</div>"


def _segments(traj: Trajectory) -> str:
    """How each resumed segment's world was rebuilt: replayed and verified, or went on after a divergence."""
    lines = []
    for seg in traj.meta.segments[1:]:
        r = seg.rebuilt
        where = f"resumed at step {seg.first_step + 1}" + (f" after {seg.after.value}" if seg.after else "")
        if r is None:
            lines.append(f"<div class='warn'>{where}: the world was not rebuilt (an older resume)</div>")
        elif r.verified:
            lines.append(f"<div class='ok'>{where}: world rebuilt, {_count(r.replayed, 'step')} replayed and verified "
                         f"in {r.seconds:.1f} s</div>")
        else:
            what = html.escape("; ".join(r.what))
            lines.append(f"<div class='bad'>{where}: the rebuild diverged at step {(r.diverged_at or 0) + 1} ({what}); "
                         "went on from there (--resume-anyway)</div>")
    return "".join(lines)


def _isolation(env: dict[str, Any]) -> str:
    """How a desktop app was isolated, as the report says it: sandboxed with or without network, or not."""
    sandbox = env.get("sandbox")
    if env.get("kind") != "desktop" or not isinstance(sandbox, dict):
        return ""
    if not sandbox.get("enabled"):
        return " (no sandbox: the app had the host's network and files)"
    return " (sandboxed, with network)" if sandbox.get("network") else " (sandboxed, no network)"


def render_html(traj: Trajectory, where: Path | None = None) -> str:
    """The report of ``traj``, to be written into the folder ``where`` (default: the trajectory's own):
    its frames are linked relative to it."""
    m = traj.meta
    base = Path(os.path.relpath(traj.root.resolve(), (where or traj.root).resolve())).as_posix()
    outcome_class = {Outcome.SUCCESS: "ok", Outcome.UNVERIFIED: "warn"}.get(m.outcome, "bad")
    esc = html.escape
    total = (traj.steps[-1].t_end - traj.steps[0].t_start) if traj.steps else 0.0
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'>{REPORT_MARK}",
        f"<title>{esc(m.task[:80])} - guiagent</title><style>{CSS}</style></head><body>",
        f"<header><h1>{esc(m.task)}</h1><div>outcome: <b class='{outcome_class}'>{esc(m.outcome.value)}</b>"
        + (f" &mdash; {esc(m.reason)}" if m.reason else "")
        + f"</div><div class='verdicts'>declared: {esc(m.declared.status if m.declared else 'nothing')}"
        + (f" ({esc(m.declared.answer)})" if m.declared and m.declared.answer else "")
        + " &middot; verified: " + ("; ".join(
            f"<span class='{'ok' if v.passed else 'bad'}'>{esc(v.kind.value)} {'passed' if v.passed else 'refused'}: "
            f"{esc(v.saw or '')}</span>" for v in m.verified) or "no check")
        + "</div><div>"
        + f" &middot; {len(traj.steps)} steps in {total:.1f} s &middot; env {esc(str(m.env.get('kind')))}{esc(_isolation(m.env))} &middot; "
        f"policy {esc(str(m.policy.get('kind')))}"
        + (f" ({esc(str(m.policy.get('model')))})" if m.policy.get("model") else "")
        + "</div>" + _segments(traj) + "</header>",
        _timeline(traj),
        "<main>",
    ]
    for problem in traj.problems:
        parts.append(f"<section class='bad'>{esc(problem)}</section>")
    for i, step in enumerate(traj.steps):
        ok = not _failed(step)
        results = "".join(
            f"<li class='{'ok' if r.ok else 'bad'}'>{'ok' if r.ok else 'failed'}{': ' + esc(_clip(r.message)) if r.message else ''}</li>"
            for r in step.results
        )
        checks = "".join(
            f"<li class='{'ok' if c.result.ok else 'bad'}'>{esc(c.result.message)}</li>" for c in step.checks
        )
        timings = ", ".join(f"{k} {v:.0f} ms" for k, v in step.timings_ms.items())
        tokens = ", ".join(f"{k} {v}" for k, v in (step.usage or {}).items())
        details = [
            ("label", esc(_clip(step.label or ""))),
            ("decided by", esc(step.source)),
            ("thought", esc(_clip(step.thought))),
            ("raw model output", f"<pre>{esc(_clip(step.raw))}</pre>" if step.raw is not None else ""),
            ("parse error", f"<span class='bad'>{esc(_clip(step.format_error))}</span>" if step.format_error else ""),
            ("the episode failed here", f"<span class='bad'>{esc(_clip(step.error))}</span>" if step.error else ""),
            ("action (screen)", f"<pre>{esc(_clip(json.dumps(step.actions, ensure_ascii=False)))}</pre>"),
            ("action (model)", f"<pre>{esc(_clip(json.dumps(step.model_actions, ensure_ascii=False)))}</pre>"
             if step.model_actions else ""),
            ("targets", _targets(step)),
            ("results", f"<ul>{results}</ul>" if results else ""),
            ("checks", f"<ul>{checks}</ul>" if checks else ""),
            ("page", esc(" - ".join(x for x in (step.title, step.url, step.window) if x))),
            ("time", f"{_seconds(step):.2f} s, from {step.t_start - traj.steps[0].t_start:.2f} s into the episode"),
            ("timings", esc(timings)),
            ("tokens", esc(tokens)),
            ("prompt sent", _prompt(step)),
            (f"on screen until the next step ({_count(len(step.context_frames), 'frame')})", _filmstrip(traj, step, base)),
        ]
        dl = "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in details if v)
        parts.append(
            f"<section id='step-{step.index + 1}'><h2 class='{'ok' if ok else 'bad'}'>step {step.index + 1}</h2>"
            f"<div class='grid'><div>{_shot(traj, step, base)}{_after(traj, i, base)}</div>"
            f"<dl>{dl}</dl></div></section>"
        )
    parts.append("</main></body></html>")
    return "".join(parts)


def _targets(step: StepRecord) -> str:
    """A script's targets: as written, where each resolved and how (dom, cache, model, fallback, healed)."""
    items = []
    for t in step.targets:
        esc = html.escape
        how = t.error or f"{t.source} -> {list(t.point or ())}"
        healed = f" <b class='bad'>healed</b>: {esc(t.reason or '')}" if t.healed else ""
        items.append(f"<li class='{'bad' if t.error else 'ok'}'>{esc(t.field)} {esc(json.dumps(t.target, ensure_ascii=False))}: "
                     f"{esc(how)}{healed}</li>")
    return f"<ul>{''.join(items)}</ul>" if items else ""


def write_gif(traj: Trajectory, path: Path, seconds_per_step: float = 1.0, width: int = 640) -> None:
    frames = [_scaled(annotated(traj, s), width) for s in traj.steps]
    if not frames:
        raise ValueError("no step to show")
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=int(seconds_per_step * 1000), loop=0)


def write_mp4(traj: Trajectory, path: Path, fps: int = 2, seconds_per_step: float = 1.0) -> None:
    av = need("av", "media", "an mp4 of the episode (--mp4)")

    frames = [annotated(traj, s) for s in traj.steps]
    if not frames:
        raise ValueError("no step to show")
    w, h = frames[0].width // 2 * 2, frames[0].height // 2 * 2  # yuv420p wants even sizes
    with av.open(str(path), "w") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        for image in frames:
            frame = av.VideoFrame.from_image(image.resize((w, h)))
            for _ in range(max(1, round(seconds_per_step * fps))):
                for packet in stream.encode(frame):
                    container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _scaled(image: Image.Image, width: int) -> Image.Image:
    if image.width <= width:
        return image
    return image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)


def write_report_files(trajectory: Path, output: Path | None = None, mp4: Path | None = None, gif: Path | None = None,
                       share: bool = False) -> tuple[Trajectory, Path]:
    """``guiagent view``: the trajectory's HTML report (default ``DIR/report.html``), and an mp4 or GIF of it; every
    target is checked before anything is written. Returns the trajectory and the report's path."""
    from guiagent.agent.outputs import FileKind, check_file
    from guiagent.agent.safeguards import owner_only
    from guiagent.agent.trajectory import load_trajectory
    from guiagent.tools.extras import need

    traj = load_trajectory(trajectory)
    target = output or trajectory / "report.html"
    check_file(target, "-o", FileKind.REPORT)
    if mp4 is not None:
        need("av", "media", "an mp4 of the episode (--mp4)")
    for path, option, kind in ((mp4, "--mp4", FileKind.MP4), (gif, "--gif", FileKind.GIF)):
        if path is not None:
            check_file(path, option, kind)
    with owner_only(target.parent, share):
        for path in (mp4, gif):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render_html(traj, target.parent), encoding="utf-8")
        if mp4:
            write_mp4(traj, mp4)
        if gif:
            write_gif(traj, gif)
    return traj, target
