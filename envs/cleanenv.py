"""The environment of what we launch (Chromium, Xvfb, desktop apps): a short allow list, not ours.

Our own process holds API keys, tokens and proxy credentials (``GUIAGENT_API_KEY``, ``*_TOKEN``...);
a launched program gets only what a GUI program needs to start, plus the names passed with
``--pass-env NAME``. An allow list, so a variable nobody thought of stays out too.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

KEEP = {
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM", "TMPDIR",
    "DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME",
    "XDG_DATA_HOME", "XDG_DATA_DIRS", "XDG_CONFIG_DIRS", "FONTCONFIG_FILE", "FONTCONFIG_PATH",
    "PYTHONPATH", "VIRTUAL_ENV", "LD_LIBRARY_PATH",
}
KEEP_PREFIXES = ("LC_",)
# Never kept, even from the list above (only --pass-env brings one in).
SECRET_NAME = re.compile(r"(^GUIAGENT_)|(_API_KEY|_TOKEN|_SECRET|_PASSWORD|_CREDENTIALS?)$|(^|_)PROXY$", re.IGNORECASE)


def clean_environ(pass_env: list[str] | tuple[str, ...] = (), source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The minimal environment for a launched program; ``pass_env`` names are added as they are."""
    source = os.environ if source is None else source
    env = {k: v for k, v in source.items()
           if (k in KEEP or k.startswith(KEEP_PREFIXES)) and not SECRET_NAME.search(k)}
    env.update({k: source[k] for k in pass_env if k in source})
    return env
