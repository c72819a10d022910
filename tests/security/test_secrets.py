"""Secrets: typed into the demo site's login by placeholder, then found nowhere on disk or on the console."""

from __future__ import annotations

import base64
import os
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from guiagent.agent.loop import CHECKPOINT_FILE, Episode, LoopConfig
from guiagent.agent.safeguards import Safeguards
from guiagent.agent.task import Task
from guiagent.agent.trajectory import TrajectoryMeta, TrajectoryWriter, load_trajectory
from guiagent.envs.browser import BrowserConfig, BrowserEnv
from guiagent.policies import Decision, DecisionContext
from guiagent.tools import LeftClick, Terminate, Type
from guiagent.tools.secrets import SecretError, Secrets, SecretSpec, read_secrets_file
from tests.model.server import ROOT

CLI = [sys.executable, "-m", "guiagent.agent.cli"]
VALUE = "Zq7-hunter2 Secret!/+"  # a space, '!' and '/' so that its URL and base64 forms differ from it

SCRIPT = """
task: Sign in as demo with the password {{DEMO_PASSWORD}}.
start_url: /login
steps:
  - {name: user name field, action: left_click, coordinate: [640, 220]}
  - {action: type, text: demo}
  - {name: password field, action: left_click, coordinate: [640, 290]}
  - action: type
    text: "{{DEMO_PASSWORD}}"
    expect: {js: "document.querySelector('input[type=password]').value.length === VALUE_LENGTH"}
  - {name: sign in, action: left_click, coordinate: [640, 362]}
""".replace("VALUE_LENGTH", str(len(VALUE)))


def forms(value: str) -> list[bytes]:
    b64 = base64.b64encode(value.encode())
    return [value.encode(), quote(value).encode(), quote(value, safe="").encode(), quote_plus(value).encode(),
            b64, b64.rstrip(b"="), base64.urlsafe_b64encode(value.encode())]


def hits(folder: Path, value: str) -> list[str]:
    found = []
    for path in folder.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path}: {form!r}" for form in forms(value) if form in data]
    return found


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=300, cwd=ROOT,
                          env={**os.environ, **(env or {})})


def test_a_typed_secret_is_written_nowhere(tmp_path: Path) -> None:
    script = tmp_path / "login.yaml"
    script.write_text(SCRIPT)
    out = tmp_path / "run"
    run = cli("run", "--script", str(script), "--demo-site", "--secret", "DEMO_PASSWORD", "--out", str(out),
              env={"DEMO_PASSWORD": VALUE})
    # the step's check saw the whole value in the password field; the script has no success check: unverified
    assert run.returncode == 3, run.stdout + run.stderr
    console = run.stdout + run.stderr
    outputs = [console]
    for fmt in ("llamafactory", "swift", "qwenvl", "trl"):
        exported = cli("export", str(out), "--format", fmt, "-o", str(tmp_path / f"export-{fmt}"))
        assert exported.returncode == 0, exported.stdout + exported.stderr
        outputs.append(exported.stdout + exported.stderr)
    view = cli("view", str(out))
    assert view.returncode == 0, view.stderr
    assert "{{DEMO_PASSWORD}}" in (out / "steps.jsonl").read_text()  # the placeholder is what is recorded
    assert hits(tmp_path, VALUE) == []  # trajectory (steps, meta, checkpoint, script copy, frames), exports, report
    assert not [f for f in forms(VALUE) for text in outputs if f.decode() in text]
    # owner only: folders 0700, files 0600
    for path in [out, *out.rglob("*"), *(tmp_path / "export-trl").rglob("*")]:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


class _Echoing:
    """A real Policy (no boundary stands in): the answers of a model that read the secret off the screen and wrote
    it in its text and its answer, as a VLM may."""

    kind = "echoing"

    def decide(self, context: DecisionContext) -> Decision:
        if context.step == 0:
            return Decision(raw=f"I see {VALUE} typed", thought=f"the field holds {VALUE}",
                            actions=[LeftClick(coordinate=(100, 100)), Type(text="{{TOKEN}}")])
        return Decision(raw=f"done: {VALUE}", actions=[Terminate(status="success", answer=f"it was {VALUE}")])

    def settings(self) -> dict:
        return {"kind": self.kind}


def test_a_secret_in_the_models_text_reaches_neither_the_records_nor_the_checkpoint(tmp_path: Path, pages_url: str) -> None:
    """Redaction in one place per store: the trajectory writer (steps, meta), the nodes' update (the checkpoint)."""
    env = BrowserEnv(BrowserConfig())
    try:
        env.reset(pages_url + "/pad.html")
        writer = TrajectoryWriter.create(tmp_path / "t", TrajectoryMeta(task="read the token"))
        guards = Safeguards(secrets=Secrets([SecretSpec(name="TOKEN")], {"TOKEN": VALUE}))
        episode = Episode(env, _Echoing(), Task(instruction="read the token"), writer, LoopConfig(max_steps=3), safeguards=guards)
        result = episode.run()
        episode.close()
    finally:
        env.close()
    assert (result.status, result.answer) == ("unverified", "it was {{TOKEN}}")
    traj = load_trajectory(tmp_path / "t")
    assert [s.raw for s in traj.steps] == ["I see {{TOKEN}} typed", "done: {{TOKEN}}"]
    assert traj.steps[0].actions[1] == {"action": "type", "text": "{{TOKEN}}"} and traj.steps[0].results[1].ok
    assert (tmp_path / "t" / CHECKPOINT_FILE).stat().st_size > 0
    assert hits(tmp_path, VALUE) == []  # steps.jsonl, meta.json, checkpoints.sqlite (and its WAL), frames


def test_an_unset_or_unknown_secret_is_a_clear_error(tmp_path: Path) -> None:
    script = tmp_path / "login.yaml"
    script.write_text(SCRIPT)
    env = {k: v for k, v in os.environ.items() if k != "DEMO_PASSWORD"}
    unset = subprocess.run([*CLI, "run", "--script", str(script), "--demo-site", "--secret", "DEMO_PASSWORD",
                            "--out", str(tmp_path / "a")], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env)
    assert unset.returncode == 2 and "secret DEMO_PASSWORD: set the environment variable DEMO_PASSWORD" in unset.stderr
    unknown = cli("run", "--script", str(script), "--demo-site", "--out", str(tmp_path / "b"))
    assert unknown.returncode == 2 and "{{DEMO_PASSWORD}} is used but is not a secret of this run" in unknown.stderr


def test_shared_files_follow_the_umask(tmp_path: Path) -> None:
    script = tmp_path / "s.yaml"
    script.write_text("task: wait\nstart_url: /login\nsteps:\n  - {action: wait, time: 0.1}\n")
    out = tmp_path / "shared"
    previous = os.umask(0o022)
    try:
        run = cli("run", "--script", str(script), "--demo-site", "--share", "--out", str(out))
    finally:
        os.umask(previous)
    assert run.returncode == 3, run.stderr  # unverified: the script has no success check
    assert stat.S_IMODE((out / "steps.jsonl").stat().st_mode) == 0o644
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_fill_scope_and_redaction() -> None:
    secrets = Secrets([SecretSpec.parse("TOKEN@*.bank.com")], {"TOKEN": VALUE})
    assert secrets.fill("pay {{TOKEN}}", "https://www.bank.com/pay") == f"pay {VALUE}"
    with pytest.raises(SecretError, match="may only be typed on \\*.bank.com, not on https://evil.com/"):
        secrets.fill("{{TOKEN}}", "https://evil.com/")
    with pytest.raises(SecretError, match="not a secret of this run"):
        secrets.fill("{{OTHER}}", None)
    for form in forms(VALUE):
        assert secrets.redact(f"x={form.decode()}&y") == "x={{TOKEN}}&y"
    assert secrets.redact_obj({"a": [VALUE, 3]}) == {"a": ["{{TOKEN}}", 3]}


def test_secrets_file(tmp_path: Path) -> None:
    file = tmp_path / "secrets.env"
    file.write_text("# mine\nexport API_PASS='abcd1234'\n")
    secrets = Secrets.load([SecretSpec(name="API_PASS")], {}, file)
    assert secrets.fill("{{API_PASS}}", None) == "abcd1234"
    with pytest.raises(SecretError, match="shorter than 4"):
        Secrets.load([SecretSpec(name="X")], {"X": "ab"})


def test_a_secrets_file_is_read_by_the_dotenv_rules(tmp_path: Path) -> None:
    """Quotes belong to the value unless they enclose it; escapes, ``export``, ``#`` and ``=`` as in .env files."""
    file = tmp_path / "secrets.env"
    file.write_text(
        "# a comment line\n"
        'A=pa55w0rd"\n'
        'B="he said \\"hi\\""\n'
        "export C='single # quoted, not a comment'\n"
        "D=unquoted # a comment after it\n"
        "E=a=b=c\n"
        "F =  spaced value  \n"
        "G=p#ss\n"
        "H='it\\'s'\n"
        "I=\"'inner'\"\n"
        'J="two\\nlines"\n'
        "K=${HOME}x\n"
    )
    assert read_secrets_file(file) == {
        "A": 'pa55w0rd"', "B": 'he said "hi"', "C": "single # quoted, not a comment", "D": "unquoted",
        "E": "a=b=c", "F": "spaced value", "G": "p#ss", "H": "it's", "I": "'inner'", "J": "two\nlines",
        "K": "${HOME}x",  # no expansion: a password may hold '$'
    }
    secrets = Secrets.load([SecretSpec(name="A"), SecretSpec(name="B")], {}, file)
    assert secrets.fill("{{A}} {{B}}", None) == 'pa55w0rd" he said "hi"'
    assert secrets.redact('typed pa55w0rd"') == "typed {{A}}"


@pytest.mark.parametrize("text, message", [
    ("OK=abcd\nMISSING\n", r"line 2: MISSING has no value \(expected MISSING=value\)"),
    ("OK=abcd\nnot a line = x 'y\n", r"line 2: expected NAME=value"),
    ("T='hunter2 unterminated\n", r"line 1: expected NAME=value"),
])
def test_a_bad_secrets_line_is_named_without_its_value(tmp_path: Path, text: str, message: str) -> None:
    file = tmp_path / "secrets.env"
    file.write_text(text)
    with pytest.raises(SecretError, match=message) as caught:
        read_secrets_file(file)
    assert "hunter2" not in str(caught.value) and "'y" not in str(caught.value)


@pytest.mark.parametrize("name, text", [
    ("s.yaml", "A: 'pa55w0rd\"'\nB: he said \"hi\"\n"),
    ("s.json", '{"A": "pa55w0rd\\"", "B": "he said \\"hi\\""}'),
])
def test_yaml_and_json_secrets_files(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / name).write_text(text)
    assert read_secrets_file(tmp_path / name) == {"A": 'pa55w0rd"', "B": 'he said "hi"'}
