"""Killed at any moment, resumed exactly: SIGKILL a small run at random points, resume it, and
compare every step's loss and the final weights with an uninterrupted run.

    python benchmarks/kill_resume.py [--trials 10] [--seed 0] [--out benchmarks/results]

Each trial starts the same small `aiayn train reverse` run, kills it with SIGKILL at a point it
observes (never after a guessed sleep): either once the metrics log shows a chosen step (the
worker holds there, so the kill lands exactly at it; the first trial's step comes before the
first checkpoint), or in the middle of writing a checkpoint (benchmarks/kill_resume_worker.py
holds the writer there after the weights are written and before the checkpoint is renamed into
place), then runs the
same command with --resume until it finishes. A trial passes when the per-step training losses
of metrics.jsonl and the SHA-256 of model.safetensors equal the uninterrupted run's.
Results: benchmarks/results/kill_resume.{json,md}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKER = Path(__file__).resolve().parent / "kill_resume_worker.py"
STEPS = 120
SETTINGS = [
    f"max_steps={STEPS}",
    "n_train=2000",
    "n_val=100",
    "d_model=32",
    "n_heads=2",
    "d_ff=64",
    "log_every=1",
    "eval_every=40",
    "checkpoint_every=10",
    "keep_checkpoints=2",
    "p_drop=0.1",  # dropout on: the random generators must be restored too
    "tensorboard=false",
    "plots=false",
]


def command(out: Path, *extra: str) -> list[str]:
    sets = [arg for s in SETTINGS for arg in ("--set", s)]
    return [sys.executable, str(WORKER), "train", "reverse", "--out", str(out), "--device", "cpu",
            *sets, *extra]  # fmt: skip


def losses(run: Path) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def last_step(run: Path) -> int:
    path = run / "metrics.jsonl"
    if not path.is_file():
        return 0
    # only whole lines: the run may be halfway through appending one
    lines = path.read_text().split("\n")[:-1]
    steps = [json.loads(line).get("step", 0) for line in lines if line]
    return max(steps, default=0)


def run_to_kill(out: Path, env: dict[str, str], kind: str, at: int, timeout: float) -> str:
    """Start the run and SIGKILL it at step `at` (kind "step": the worker holds once step `at`
    is in metrics.jsonl) or in the first checkpoint write at or after it ("checkpoint").
    Returns what it observed when it killed."""
    flag = out.parent / f"{out.name}.pause"
    marker = Path(str(flag) + ".at")
    env = {**env, "AIAYN_PAUSE_FLAG": str(flag)}
    if kind == "step":
        env["AIAYN_HOLD_AT_STEP"] = str(at)
    proc = subprocess.Popen(command(out), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + timeout
    seen = ""
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            step = last_step(out)
            if kind == "step" and step >= at:
                seen = f"after step {step}"
                break
            if kind == "checkpoint" and step >= at - 1 and not flag.exists():
                flag.touch()  # the next checkpoint write stops halfway
            if kind == "checkpoint" and marker.exists():
                seen = f"writing {Path(marker.read_text()).name}"
                break
            time.sleep(0.01)
        if proc.poll() is not None:
            raise RuntimeError(f"the run ended before the kill point ({kind} {at})")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        flag.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
    return seen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rng = random.Random(args.seed)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="kill-resume-") as tmp:
        root = Path(tmp)
        reference = root / "uninterrupted"
        subprocess.run(command(reference), env=env, check=True, capture_output=True)
        want_losses, want_sha = losses(reference), sha256(reference / "model.safetensors")
        trials = []
        for i in range(args.trials):
            kind = "checkpoint" if i % 3 == 2 else "step"  # about a third mid-checkpoint
            # the first trial is always killed before the first checkpoint (step 10)
            at = rng.randrange(2, 10) if i == 0 else rng.randrange(2, STEPS - 5)
            out = root / f"trial-{i}"
            seen = run_to_kill(out, env, kind, at, args.timeout)
            done = subprocess.run(command(out, "--resume"), env=env, capture_output=True, text=True)
            ok = done.returncode == 0
            got_losses = losses(out) if ok else []
            got_sha = sha256(out / "model.safetensors") if ok else ""
            trials.append({
                "kill": kind, "target_step": at, "killed": seen, "resume_rc": done.returncode,
                "same_losses": got_losses == want_losses, "same_weights": got_sha == want_sha,
                "stderr_tail": done.stderr.strip().splitlines()[-1:] if not ok else [],
            })  # fmt: skip
            print(json.dumps(trials[-1]), flush=True)
    passed = sum(t["same_losses"] and t["same_weights"] for t in trials)
    record = {
        "command": shlex.join(["python", *sys.argv]),
        "aiayn_command": shlex.join(["aiayn", *command(Path("RUN"))[2:]]),
        "steps": STEPS,
        "trials": trials,
        "passed": passed,
        "seconds": round(time.perf_counter() - started, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "reference_sha256": want_sha,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "kill_resume.json").write_text(json.dumps(record, indent=2) + "\n")
    rows = "\n".join(
        f"| {i} | {t['kill']} | {t['target_step']} | {t['killed']} | {t['resume_rc']} | "
        f"{'yes' if t['same_losses'] else 'NO'} | {'yes' if t['same_weights'] else 'NO'} |"
        for i, t in enumerate(trials)
    )
    (args.out / "kill_resume.md").write_text(
        f"# Killed at any moment, resumed exactly\n\n`{record['command']}`\n\n"
        f"Each trial: `{record['aiayn_command']}`, SIGKILL at the point shown, then the same "
        f"command with `--resume`.\n\n| trial | kill | target step | killed | resume exit | "
        f"same per-step losses | same final weights |\n|---|---|---|---|---|---|---|\n{rows}\n\n"
        f"**{passed}/{len(trials)}** trials equal the uninterrupted run (SHA-256 "
        f"{want_sha[:16]}...); {record['seconds']} s.\n"
    )
    print(f"{passed}/{len(trials)} equal")
    return 0 if passed == len(trials) else 1


if __name__ == "__main__":
    sys.exit(main())
