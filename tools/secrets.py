"""Secrets by placeholder: the model and every record see ``{{NAME}}``, only the env sees the value.

A secret's value comes from the environment variable ``NAME`` or from a secrets file kept outside the
trajectory (a ``.env`` file read by python-dotenv, or a YAML/JSON mapping). It is put into an action's text at the
moment the env executes it, optionally only where the page is on the secret's own domains, and every
text that is recorded or printed goes through ``redact`` (the value, URL-encoded and base64 forms).
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
MIN_LENGTH = 4  # shorter values would redact ordinary words
DOTENV_RULES = "https://github.com/theskumar/python-dotenv#file-format"


class SecretError(ValueError):
    """A secret that cannot be used here; the message names it (never its value)."""


class SecretSpec(BaseModel):
    """A secret the run may use: its name, and optionally the only domains it may be typed on."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    domains: list[str] = Field(default_factory=list, description="Host patterns; empty: anywhere.")

    @classmethod
    def parse(cls, text: str) -> SecretSpec:
        """``NAME`` or ``NAME@domain,*.domain``."""
        name, _, domains = text.partition("@")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name.strip()):
            raise SecretError(f"secret name {name.strip()!r}: use letters, digits and _ (an environment variable's name)")
        return cls(name=name.strip(), domains=[d.strip() for d in domains.split(",") if d.strip()])

    @field_validator("domains")
    @classmethod
    def _patterns(cls, v: list[str]) -> list[str]:
        from guiagent.tools.urlpolicy import parse_pattern

        for p in v:
            parse_pattern(p)
        return v


def read_secrets_file(path: str | Path) -> dict[str, str]:
    """A ``.env`` file read by python-dotenv's rules (quotes, escapes, ``export``, comments; no ``${VAR}``
    expansion), or, for ``.yaml``/``.yml``/``.json``, a mapping of names to values."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SecretError(f"cannot read the secrets file {path}: {exc.strerror}") from None
    if path.suffix in (".yaml", ".yml", ".json"):
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError):
            raise SecretError(f"the secrets file {path} is not valid {path.suffix[1:].upper()}") from None
        if not isinstance(data, dict):
            raise SecretError(f"the secrets file {path} must hold a mapping of names to values")
        return {str(k): str(v) for k, v in data.items()}
    from dotenv.parser import parse_stream  # here: ~9 ms of import that only a secrets file needs

    values = {}
    for binding in parse_stream(io.StringIO(text)):  # never quote the line: it may hold a value
        if binding.error:
            raise SecretError(f"the secrets file {path}, line {binding.original.line}: expected NAME=value "
                              f"(quoted by the .env rules: {DOTENV_RULES})")
        if binding.key is None:
            continue  # a comment or a blank line
        if binding.value is None:
            raise SecretError(f"the secrets file {path}, line {binding.original.line}: {binding.key} has no value "
                              f"(expected {binding.key}=value)")
        values[binding.key] = binding.value
    return values


class Secrets:
    """The values of a run's secrets, in memory only."""

    def __init__(self, specs: list[SecretSpec], values: Mapping[str, str]) -> None:
        self.specs = {s.name: s for s in specs}
        self._values = {s.name: values[s.name] for s in specs}
        forms: list[tuple[str, str]] = []
        for name, value in self._values.items():
            for form in {value, quote(value, safe=""), quote_plus(value), quote(value),
                         base64.b64encode(value.encode()).decode(), base64.urlsafe_b64encode(value.encode()).decode(),
                         base64.b64encode(value.encode()).decode().rstrip("=")}:
                forms.append((form, "{{" + name + "}}"))
        self._forms = sorted(forms, key=lambda f: -len(f[0]))  # longest first: a value inside its own encoding
        self._pattern = re.compile("|".join(re.escape(f) for f, _ in self._forms)) if self._forms else None
        self._by_form = dict(self._forms)

    @classmethod
    def load(cls, specs: list[SecretSpec], environ: Mapping[str, str], file: str | Path | None = None) -> Secrets:
        """Each secret from ``environ[NAME]``, else from ``file``; a missing or too short one is an error."""
        from_file = read_secrets_file(file) if file else {}
        values = {}
        for spec in specs:
            value = environ.get(spec.name, from_file.get(spec.name))
            if value is None:
                where = f"the environment variable {spec.name}" + (f" or the secrets file {file}" if file else "")
                raise SecretError(f"secret {spec.name}: set {where}")
            if len(value) < MIN_LENGTH:
                raise SecretError(f"secret {spec.name}: its value is shorter than {MIN_LENGTH} characters")
            values[spec.name] = value
        return cls(specs, values)

    def __bool__(self) -> bool:
        return bool(self._values)

    def fill(self, text: str, url: str | None) -> str:
        """``text`` with each ``{{NAME}}`` replaced by its value; refused where the secret may not go."""
        def value(m: re.Match) -> str:
            name = m.group(1)
            if name not in self._values:
                raise SecretError(f"{{{{{name}}}}} is not a secret of this run (pass --secret {name})")
            spec = self.specs[name]
            if spec.domains and not _on_domains(url, spec.domains):
                raise SecretError(f"secret {name} may only be typed on {', '.join(spec.domains)}, not on {url or 'this page'}")
            return self._values[name]

        return PLACEHOLDER.sub(value, text)

    def redact(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(lambda m: self._by_form[m.group(0)], text)

    def redact_obj(self, obj: Any) -> Any:
        """``obj`` (JSON-like: dicts, lists, strings) with every string redacted."""
        if self._pattern is None:
            return obj
        if isinstance(obj, str):
            return self.redact(obj)
        if isinstance(obj, dict):
            return {k: self.redact_obj(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.redact_obj(v) for v in obj]
        return obj


def _on_domains(url: str | None, domains: list[str]) -> bool:
    from guiagent.tools.urlpolicy import UrlPolicy

    return bool(url) and bool(UrlPolicy(allow=domains, private_network=True).check_url(url))  # type: ignore[arg-type]


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))
