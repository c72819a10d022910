"""Every command in README.md runs, as written, in a scratch folder; the Python example too.

The README's code blocks are read in order: ``sh`` blocks are split into commands (continuation lines
joined, comments dropped) and run with bash; a block after ``<!-- file: NAME -->`` is written to NAME
before any command runs. ``.venv/bin/`` means this interpreter's bin folder. The model commands run against the tiny vLLM
server (``http://GPU:8000/v1`` and the 7B model's name stand for it). Not run, each for its named reason
(``NOT_HERE``): ``vllm serve`` of the 7B model, batches against GPU servers or a Ray cluster.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.model.server import MODEL_NAME

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

BLOCK = re.compile(r"(?:<!-- (?:file: (?P<file>[\w.-]+)|(?P<install>install)) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```",
                   re.DOTALL)
CORE_MB = 350  # the core install's most (issue 21: it was 1.2 GB with every extra)

# Commands that may end in 1 rather than 0: the tiny model answers at random; an approval rule stops
# the episode (awaiting approval) until a person answers, and a refused action fails the sign-in.
MAY_FAIL = ("guiagent run --policy vlm", "--approve", "guiagent approve")
# Commands the README says fail, with their exit code.
FAILS = {".venv/bin/guiagent demo --layout moved": 1}  # the pixel script on the moved layout
# Not run, each for its reason: they need machines this suite does not have.
NOT_HERE = {
    "vllm serve": "serving Qwen2.5-VL-7B needs a GPU",
    "http://gpu": "needs model servers on GPU machines",
    "--ray-address auto": "needs a running Ray cluster (and a model server on a GPU)",
    "--judge-url http://127.0.0.1:8001": "needs a judge model server (tests/agent/test_judge.py runs one)",
    "--live": "waits for a person in the live view (tests/agent/test_live.py is that person)",
    "guiagent watch": "serves until Ctrl-C (tests/agent/test_live.py watches a batch)",
    "guiagent mcp": "waits for an MCP client (tests/agent/test_mcp.py is one, over stdio and HTTP)",
    "batch apps": "LibreOffice episodes are slow: tests/suites/test_apps.py runs this very batch once",
}


def _blocks() -> list[tuple[str, str, str | None]]:
    """The README's code blocks but its install section (test_the_install_section_runs runs that)."""
    return [(m["lang"], m["body"], m["file"]) for m in BLOCK.finditer(README.read_text()) if not m["install"]]


def _install_commands() -> list[str]:
    (body,) = [m["body"] for m in BLOCK.finditer(README.read_text()) if m["install"]]
    return _commands(body)


def _commands(body: str) -> list[str]:
    joined = re.sub(r"\\\n\s*", " ", body)
    commands = []
    for line in joined.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        # an inline comment: a '#' after two spaces, outside quotes (the README's style)
        commands.append(re.split(r"\s{2,}#", line)[0].strip())
    return commands


def _python_example() -> str:
    (code,) = [body for lang, body, _ in _blocks() if lang == "python"]
    return code


def test_the_readme_has_commands_to_run() -> None:
    commands = [c for lang, body, _ in _blocks() if lang == "sh" for c in _commands(body)]
    assert len(commands) >= 12 and any("guiagent demo" in c for c in commands)


def test_the_python_example_runs(tmp_path) -> None:
    for _, body, file in _blocks():  # the files it reads (sign-in.yaml)
        if file:
            (tmp_path / file).write_text(body)
    (tmp_path / "example.py").write_text(_python_example())
    proc = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    first, last = proc.stdout.strip().splitlines()[0], proc.stdout.strip().splitlines()[-1]
    assert first.startswith("left_click (") and first.endswith("True")
    assert last.startswith("success") and last.endswith("/list")


def _run(command: str, cwd: Path, server_url: str | None) -> subprocess.CompletedProcess:
    command = command.replace(".venv/bin/", f"{BIN}/")
    if server_url is not None:
        command = command.replace("http://GPU:8000/v1", server_url).replace("Qwen/Qwen2.5-VL-7B-Instruct", MODEL_NAME)
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=600)




@pytest.mark.timeout(1200)  # the demos, replay and export; with the model, the vLLM server's start on CPU
@pytest.mark.parametrize("with_model", [False, True], ids=["commands", "model-commands"])
def test_every_readme_command_runs(tmp_path, request, with_model) -> None:
    server_url = request.getfixturevalue("vllm_server").base_url if with_model else None
    ran = skipped = 0
    for _, body, file in _blocks():  # the files the commands read (sign-in.yaml, tick.yaml)
        if file:
            (tmp_path / file).write_text(body)
    for lang, body, _ in _blocks():
        if lang != "sh":
            continue
        for command in _commands(body):
            if any(k in command for k in NOT_HERE) or command.startswith("make"):  # make: test_make_demo_runs
                skipped += 1
                continue
            is_model = "GPU:8000" in command
            if is_model != with_model:
                continue
            proc = _run(command, tmp_path, server_url)
            allowed = (FAILS[command],) if command in FAILS else (0, 1) if any(k in command for k in MAY_FAIL) else (0,)
            assert proc.returncode in allowed, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
            assert "Traceback" not in proc.stderr, command
            ran += 1
    assert ran >= (2 if with_model else 10) and skipped >= 1


def test_make_demo_runs() -> None:
    """``make demo``, when this is make's own up-to-date venv (then it checks the system and runs the demo);
    ``make test`` is this suite itself."""
    if Path(sys.prefix) != ROOT / ".venv" or subprocess.run(["make", "-q", "venv"], cwd=ROOT).returncode != 0:
        pytest.skip("make demo would (re)build .venv here: it runs when the suite runs through `make test`")
    proc = subprocess.run(["make", "demo"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    out = re.search(r"recording to (runs/demo-\S+)", proc.stdout)
    assert out and "success after 25 steps" in proc.stdout
    shutil.rmtree(ROOT / out.group(1), ignore_errors=True)


@pytest.mark.timeout(900)  # a fresh venv from pip's cache, then the demo
def test_the_install_section_runs_and_the_core_is_lean(tmp_path) -> None:
    """The README's install commands, in a scratch folder with this checkout as the package (what `make demo` installs):
    the core venv stays under CORE_MB and runs the demo."""
    commands = _install_commands()
    assert any("pip install" in c for c in commands)
    for command in commands:
        command = command.replace("-c constraints.txt -e .", f"-c {ROOT / 'constraints.txt'} -e {ROOT}")
        proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    size = subprocess.run(["du", "-sm", str(tmp_path / ".venv")], capture_output=True, text=True, check=True)
    megabytes = int(size.stdout.split()[0])
    print(f"core venv: {megabytes} MB")
    assert megabytes <= CORE_MB
    demo = subprocess.run([str(tmp_path / ".venv/bin/guiagent"), "demo", "--out", "demo"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert demo.returncode == 0 and "success after 25 steps" in demo.stdout, demo.stdout + demo.stderr


def test_make_demo_installs_the_core_only() -> None:
    """``make demo`` builds the core venv (no extra) unless the full one is there; ``make test`` installs every extra."""
    plan = subprocess.run(["make", "-n", "-B", "venv-core", "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    assert re.search(r"pip install -q -c constraints\.txt -e \.(\s|&&|;|$)", plan), plan  # no [extras]
    demo = subprocess.run(["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert "guiagent demo" in demo and f"[{'test'}" not in demo
    full = subprocess.run(["make", "-n", "-B", "venv", "VENV=/nonexistent/venv"], cwd=ROOT, capture_output=True,
                          text=True, check=True).stdout
    assert "media" in full and "test" in full


def test_the_readme_names_every_debian_package_make_installs() -> None:
    """The README's per-env apt-get lines list every package scripts/ensure-system-deps may install."""
    script = (ROOT / "scripts" / "ensure-system-deps").read_text()
    installed = {pkg for group in re.findall(r"need\+=\(([^)]*)\)", script) for pkg in group.split()}
    block = README.read_text().split("Debian packages, per env", 1)[1].split("```", 2)[1]
    named = set(re.findall(r"[a-z0-9][a-z0-9.+-]+", block))
    assert installed and installed <= named, sorted(installed - named)
