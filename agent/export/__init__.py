"""``guiagent export``: trajectories to the SFT formats Qwen2.5-VL trainers read."""

from guiagent.agent.export.samples import ExportOptions, Sample, Turn, build_samples
from guiagent.agent.export.writers import FORMATS, write_dataset

__all__ = ["ExportOptions", "FORMATS", "Sample", "Turn", "build_samples", "write_dataset"]
