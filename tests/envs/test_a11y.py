"""AT-SPI on a real GTK app (mousepad) in a sandboxed desktop session: a script's ``target: {role, name}`` and
``text`` targets resolve through the accessibility tree (waiting like browser targets) and click the right menu;
``--a11y`` records the linearized tree with each step; without a11y such a target is one clear sentence."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from guiagent.envs.a11y import linearized
from guiagent.envs.desktop import DesktopConfig, DesktopEnv
from guiagent.envs.desktop_session import WindowManager
from guiagent.envs.sandbox import SandboxConfig
from guiagent.tools.targets import Target, TargetError

TASK = """suite: a11y
tasks:
  - id: save-as-by-menu
    instruction: Open the Save As dialog from the File menu.
    start: {app: mousepad notes.txt, window: notes.txt, wm: openbox, sandbox: true, files: [files]}
    success: {window: "^Save As"}
    script: save-as.yaml
"""
SCRIPT = """steps:
  - {name: the File menu, action: left_click, target: {role: menu, name: File, exact: true, timeout: 30}}
  - {name: Save As, action: left_click, target: {text: Save As..., timeout: 30}, expect: {window: "^Save As", timeout: 30}}
  - {name: done, action: terminate, status: success}
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    home = tmp_path_factory.mktemp("a11y")
    (home / "seed").mkdir()
    (home / "seed" / "notes.txt").write_text("first line\n")
    env = DesktopEnv(DesktopConfig(xvfb="1280x800x24", launch="mousepad notes.txt", window="notes.txt",
                                   wm=WindowManager.OPENBOX, a11y=True, sandbox=SandboxConfig(enabled=True),
                                   home=str(home / "home"), home_seed=[str(home / "seed")], launch_timeout_s=60))
    env.reset()
    yield env
    env.close()


def test_a_role_and_name_target_is_the_menu_on_the_screen(env):
    found = env.locate(Target(role="menu", name="File", exact=True, timeout=30))
    assert found.element.role == "menu" and found.element.name == "File"
    x, y, w, h = found.element.rect
    assert x <= found.point[0] <= x + w and y <= found.point[1] <= y + h
    assert env.element_at(found.point) is not None
    tree = env.a11y_tree() or ""
    assert tree.startswith("tag\tname\tposition (top-left x&y)\tsize (w&h)") and "menu\tFile\t" in tree


def test_a_target_that_is_not_there_says_so_after_its_timeout(env):
    with pytest.raises(TargetError, match="role button 'No such button' not on the screen within 0.5s \\(AT-SPI\\)"):
        env.locate(Target(role="button", name="No such button", timeout=0.5))


def test_without_a11y_a_role_target_is_one_clear_sentence():
    with pytest.raises(TargetError, match="read through AT-SPI"):
        DesktopEnv(DesktopConfig())._a11y()
    assert linearized([]) == "tag\tname\tposition (top-left x&y)\tsize (w&h)"


def test_a_script_clicks_menus_by_role_and_text_and_records_the_tree(tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "notes.txt").write_text("first line\n")
    (tmp_path / "task.yaml").write_text(TASK)
    (tmp_path / "save-as.yaml").write_text(SCRIPT)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "guiagent.agent.cli", "batch", str(tmp_path / "task.yaml"), "--a11y", "--out", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    steps = [json.loads(line) for line in (out / "episodes" / "save-as-by-menu" / "seed-0" / "steps.jsonl").open()]
    assert [t["source"] for s in steps[:2] for t in s["targets"]] == ["dom", "dom"]
    assert "menu\tFile\t" in steps[0]["a11y"] and "Save As..." in steps[1]["a11y"]  # the menu was open


def _batch(folder, *args: str) -> None:
    cmd = [sys.executable, "-m", "guiagent.agent.cli", "batch", str(folder / "task.yaml"), "--a11y", *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_a_desktop_run_by_points_becomes_a_script_of_role_and_name_targets(tmp_path):
    """Clicks by point on mousepad's menus record the accessible under each point; ``guiagent script`` turns them
    into AT-SPI role/name targets (the point kept as the fallback), and the written script passes on its own."""
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "notes.txt").write_text("first line\n")
    (tmp_path / "task.yaml").write_text(TASK)
    (tmp_path / "save-as.yaml").write_text(SCRIPT)
    _batch(tmp_path, "--out", str(tmp_path / "by-role"))  # where the menus are on this screen, found by role
    steps = [json.loads(line) for line in (tmp_path / "by-role" / "episodes" / "save-as-by-menu" / "seed-0"
                                           / "steps.jsonl").open()]
    menu, item = (s["targets"][0]["point"] for s in steps[:2])
    points = (f"steps:\n  - {{action: left_click, coordinate: [{menu[0]:g}, {menu[1]:g}]}}\n"
              f"  - {{action: left_click, coordinate: [{item[0]:g}, {item[1]:g}], expect: {{window: '^Save As', timeout: 30}}}}\n"
              "  - {action: terminate, status: success}\n")
    (tmp_path / "save-as.yaml").write_text(points)
    _batch(tmp_path, "--out", str(tmp_path / "by-point"))
    recorded = tmp_path / "by-point" / "episodes" / "save-as-by-menu" / "seed-0"
    generated = tmp_path / "generated.yaml"
    done = subprocess.run([sys.executable, "-m", "guiagent.agent.cli", "script", str(recorded), "-o", str(generated)],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    script = yaml.safe_load(generated.read_text())
    first, second = script["steps"][:2]
    assert first["target"] == {"role": "menu", "name": "File", "exact": True, "describe": "the menu 'File'"}
    assert first["coordinate"] == [menu[0], menu[1]]  # the fallback
    assert second["target"]["role"] == "menu item" and second["target"]["name"].startswith("Save As")
    (tmp_path / "save-as.yaml").write_text(generated.read_text())  # the written script, run on its own
    _batch(tmp_path, "--out", str(tmp_path / "generated"))
    replayed = [json.loads(line) for line in (tmp_path / "generated" / "episodes" / "save-as-by-menu" / "seed-0"
                                              / "steps.jsonl").open()]
    assert [t["source"] for s in replayed[:2] for t in s["targets"]] == ["dom", "dom"]
    meta = json.loads((tmp_path / "generated" / "episodes" / "save-as-by-menu" / "seed-0" / "meta.json").read_text())
    assert meta["outcome"] == "success"
