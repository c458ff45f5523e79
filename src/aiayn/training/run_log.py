"""What a training run writes as it goes: metrics.jsonl, TensorBoard, plots and a progress bar.

Only the main process (rank 0 under torchrun) writes; on the others every method does nothing.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import Any

from aiayn.training.checkpoint import atomic_write_json

log = logging.getLogger(__name__)


class RunLog:
    """The metrics of a run in `out_dir`: one JSON record a line in metrics.jsonl (the source of
    truth), mirrored to TensorBoard when it is installed, plotted at the end."""

    def __init__(
        self, out_dir: Path, *, enabled: bool = True, tensorboard: bool = True, plots: bool = True
    ) -> None:
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / "metrics.jsonl"
        self.enabled = enabled
        self.plots = plots
        # None: not opened yet; False: switched off or not installed
        self._writer: Any = None if tensorboard else False

    def start(self, *, resumed_at: int | None) -> None:
        """A fresh run starts an empty file; a resumed one drops the records that the
        interrupted run wrote after its last checkpoint (they will be written again)."""
        if not self.enabled:
            return
        if resumed_at is None:
            self.path.unlink(missing_ok=True)
        elif self.path.is_file():
            kept = []
            for line in self.path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line) if line.strip() else None
                except json.JSONDecodeError:  # a line the killed run was writing: half of one
                    log.warning("%s: dropped a partly written record: %.60s", self.path, line)
                    continue
                if isinstance(record, dict) and record.get("step", 0) <= resumed_at:
                    kept.append(line)
            self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")

    def record(self, record: dict[str, Any]) -> None:
        """Append `record` (it has a "step") to metrics.jsonl and its numbers to TensorBoard."""
        if not self.enabled:
            return
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        writer = self._tensorboard()
        if writer is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float):
                    writer.add_scalar(key, value, record["step"])

    def _tensorboard(self) -> Any:
        if self._writer is None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # tensorboard is a dependency, but keep training without it
                self._writer = False
                return None
            self._writer = SummaryWriter(str(self.out_dir / "tensorboard"))
        return self._writer or None

    def close(self) -> None:
        """Plot the curves (loss, learning rate) and close TensorBoard."""
        if not self.enabled:
            return
        if self.plots:
            from aiayn.evaluation.plots import plot_curves

            with contextlib.suppress(ImportError):  # no matplotlib: the numbers are in the .jsonl
                plot_curves(self.path, self.out_dir)
        if self._writer:
            self._writer.close()

    def progress(self, *, total: int, initial: int) -> Any:
        """A tqdm bar on a terminal; silent when stderr is not one (logs, CI, notebooks) or on
        other ranks. The terminal bar, not tqdm.auto's widget: a notebook's stderr is no
        terminal, so the bar would be off there anyway."""
        from tqdm import tqdm

        return tqdm(
            total=total,
            initial=initial,
            disable=not self.enabled or not sys.stderr.isatty(),
            unit="step",
            dynamic_ncols=True,
        )


def write_summary(out_dir: Path, summary: dict[str, Any]) -> None:
    atomic_write_json(Path(out_dir) / "summary.json", summary)
