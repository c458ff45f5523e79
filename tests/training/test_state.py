"""A run killed with SIGKILL and resumed ends with exactly the weights of an uninterrupted run."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file

SETS = [
    "d_model=32",
    "n_heads=2",
    "d_ff=64",
    "p_drop=0.1",
    "n_train=3000",
    "n_val=50",
    "max_seq_len=8",
    "max_steps=160",
    "checkpoint_every=20",
    "eval_every=80",
    "log_every=10",
]


def _cmd(out: Path, *extra: str) -> list[str]:
    args = [sys.executable, "-m", "aiayn", "train", "reverse", "--out", str(out), "--device", "cpu"]
    for s in SETS:
        args += ["--set", s]
    return args + list(extra)


ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


def _latest_step(out: Path) -> int:
    latest = out / "checkpoints" / "latest"
    try:
        return int(latest.read_text().strip().removeprefix("step-"))
    except (FileNotFoundError, ValueError):
        return 0


def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    straight = tmp_path / "straight"
    subprocess.run(_cmd(straight), check=True, env=ENV, capture_output=True, timeout=300)

    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        _cmd(killed), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 240
    while _latest_step(killed) < 60 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = _latest_step(killed)
    assert 60 <= killed_at < 160
    assert not (killed / "model.safetensors").exists()

    subprocess.run(_cmd(killed, "--resume"), check=True, env=ENV, capture_output=True, timeout=300)
    a = load_file(str(straight / "model.safetensors"))
    b = load_file(str(killed / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    # The metrics log has no duplicated steps from the interrupted part.
    steps = [
        line
        for line in (killed / "metrics.jsonl").read_text().splitlines()
        if '"train_loss"' in line
    ]
    assert len(steps) == 16
