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

from guiagent.tools.secrets import SecretError, Secrets, SecretSpec
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
