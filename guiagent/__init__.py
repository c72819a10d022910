"""guiagent: a runtime that lets a vision-language model use a computer: observe, decide, act, record.

The repository keeps the layers as top-level folders (``tools/``, ``envs/``, ``policies/``, ``agent/``);
installed, they are one namespace: ``guiagent.tools``, ``guiagent.envs``, ``guiagent.policies``,
``guiagent.agent``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("guiagent")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
