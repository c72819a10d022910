"""``guiagent script``: any trajectory (a model's run, a replay, a scripted run) turned into a script.

Each pointer action gets a target: the one its step was scripted with, else, in the browser, the element
recorded under the point when the action ran (a unique selector, or its ARIA role and name; on the desktop with
``--a11y``, the named AT-SPI accessible's role and name), with a
description for the model (from the element, or the model's thought where no element was recorded); the
recorded point stays as the fallback. A step's checks are kept, and a change of URL or title that followed
it becomes an ``expect``. Record once with the model, then replay cheaply and deterministically.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlparse

import yaml

from guiagent.agent.trajectory import StepRecord, Trajectory
from guiagent.tools.targets import TARGET_KEYS, ElementInfo

POINT_FIELDS = tuple(TARGET_KEYS)


def script_from_trajectory(traj: Trajectory) -> dict[str, Any]:
    """The script, as the mapping a script file holds."""
    meta = traj.meta
    spec = meta.extra.get("spec", {})
    script: dict[str, Any] = {"task": meta.task}
    if meta.start_url:
        script["start_url"] = _path(meta.start_url) if spec.get("demo_site") else meta.start_url
    if meta.success_check:
        script["success"] = meta.success_check
    desktop = meta.env.get("kind") == "desktop"
    steps = []
    for i, step in enumerate(traj.steps):
        following = traj.steps[i + 1] if i + 1 < len(traj.steps) else None
        steps += _steps(step, following, desktop)
    if not steps:
        raise ValueError(f"{traj.root}: no step with an action that ran")
    script["steps"] = steps
    return script


class _Dumper(yaml.SafeDumper):
    """Block style, except a list of plain values ([640, 220], [Return]) on one line."""


_Dumper.add_representer(list, lambda d, v: d.represent_sequence(
    "tag:yaml.org,2002:seq", v, flow_style=all(not isinstance(x, (dict, list)) for x in v)))


def write_script(traj: Trajectory) -> str:
    """The script as YAML text, with a header that says where it came from."""
    header = (f"# Written by `guiagent script` from {traj.root} ({traj.meta.outcome}, {len(traj.steps)} steps).\n"
              "# Targets are found when each step runs; a recorded point beside one is its fallback.\n")
    body = yaml.dump(script_from_trajectory(traj), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=120)
    return header + body


def _steps(step: StepRecord, following: StepRecord | None, desktop: bool) -> list[dict[str, Any]]:
    out = []
    ran = [(j, a) for j, a in enumerate(step.actions) if j < len(step.results) and step.results[j].ok]
    for j, action in ran:
        entry: dict[str, Any] = {"name": step.label} if step.label else {}
        entry.update(action)
        for field in POINT_FIELDS:
            if field in action:
                target = _target(step, j, field, desktop)
                if target:
                    entry[TARGET_KEYS[field]] = target
        out.append(entry)
    if out:
        expect = _expect(step, following)
        if expect:
            out[-1]["expect"] = expect
    return out


def _target(step: StepRecord, index: int, field: str, desktop: bool) -> dict[str, Any] | None:
    written = [t.target for t in step.targets if t.field == field]
    if written and index == 0:  # a scripted step's own target (a script step has one action)
        return written[0]
    raw = step.results[index].data.get("elements", {}).get(field)
    if raw is not None:
        element = ElementInfo.model_validate(raw)
        return _from_accessible(element) if desktop else _from_element(element)
    thought = _first_sentence(step.thought) if step.raw is not None else ""  # a model's thought, not a step name
    return {"describe": thought} if thought else None


def _from_element(element: ElementInfo) -> dict[str, Any]:
    """A selector when the page gave the element a unique one, else its role and name; always a description."""
    strong = " > " not in element.selector
    if strong:
        target: dict[str, Any] = {"selector": element.selector}
    elif element.role and element.name:
        target = {"role": element.role, "name": element.name}
    else:
        target = {"selector": element.selector}
    label = element.name or element.text
    kind = element.role or element.tag
    target["describe"] = f"the {kind} {label!r}" if label else f"the {kind}"
    return target


def _from_accessible(element: ElementInfo) -> dict[str, Any]:
    """A desktop accessible (AT-SPI): its role and exact name, found again through the tree when the step runs."""
    return {"role": element.role, "name": element.name, "exact": True,
            "describe": f"the {element.role} {element.name!r}"}


def _expect(step: StepRecord, following: StepRecord | None) -> dict[str, Any] | None:
    """The step's own checks, else the URL and title the next observation found, where they changed."""
    if step.checks and all(c.result.ok for c in step.checks):
        merged: dict[str, Any] = {}
        for c in step.checks:
            merged.update(c.check)
        return merged
    after_url = (following.url if following else None) or step.url_after
    after_title = following.title if following else None
    expect: dict[str, Any] = {}
    if after_url and _path(after_url) != _path(step.url or ""):
        expect["url"] = re.escape(_path(after_url)) + "$"
    if after_title and after_title != step.title:
        expect["js"] = f"document.title === {json.dumps(after_title, ensure_ascii=False)}"
    return expect or None


def _path(url: str) -> str:
    parts = urlparse(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _first_sentence(text: str) -> str:
    first = re.split(r"(?<=[.!?])\s|\n", text.strip(), maxsplit=1)[0]
    return first[:120].strip()
