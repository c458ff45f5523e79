"""`aiayn train` as a function: settings layered task defaults < config file < --set, the preset,
resuming a run without changing its model, an occupied --out, and the architectures a task
trains."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from aiayn.app.train import TrainRequest, resolve, train
from aiayn.config import ModelConfig
from aiayn.errors import AiaynError
from aiayn.tasks.toy import ReverseTask
from aiayn.training.device import resolve_precision

# A few steps of a 16-wide model on 64 examples: a second or two.
TINY = [
    "d_model=16",
    "n_heads=2",
    "d_ff=32",
    "n_layers=1",
    "max_steps=2",
    "n_train=64",
    "n_val=8",
    "eval_every=2",
    "batch_size=16",
    "tensorboard=false",
    "plots=false",
]


def _config_file(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_settings_layer_task_defaults_then_the_config_file_then_set(tmp_path):
    config_file = _config_file(
        tmp_path,
        {
            "train": {"lr": 0.002, "max_steps": 7},
            "model": {"d_model": 32, "n_heads": 8},
            "task": {"n_train": 100, "n_val": 10},
        },
    )
    request = TrainRequest(
        task="reverse",
        out=tmp_path / "run",
        config_file=config_file,
        sets=["max_steps=9", "n_heads=2", "n_val=20"],
        device="cpu",
        max_minutes=3.0,
    )
    task, out, model_config, train_config, model_dict = resolve(request)
    assert out == tmp_path / "run" and model_config is None  # a new run: built after the data
    defaults = ReverseTask.default_train
    assert train_config.lr == 0.002  # the file over the task's 1e-3
    assert train_config.max_steps == 9  # --set over the file
    assert train_config.batch_size == defaults["batch_size"]  # the task's, untouched
    assert train_config.clip_grad_norm == defaults["clip_grad_norm"] == 1.0  # the task's recipe
    assert (train_config.device, train_config.max_minutes) == ("cpu", 3.0)  # the command line's
    assert (model_dict["d_model"], model_dict["n_heads"]) == (32, 2)
    assert (task.opts["n_train"], task.opts["n_val"]) == (100, 20)


def test_the_preset_comes_from_the_command_line_the_file_or_the_task(tmp_path):
    file_preset = _config_file(tmp_path, {"preset": "small"})

    def preset(**request) -> str:
        return resolve(TrainRequest(task="reverse", out=tmp_path / "run", **request))[4]["preset"]

    assert preset() == ReverseTask.default_preset == "tiny"
    assert preset(config_file=file_preset) == "small"
    assert preset(config_file=file_preset, preset="paper-base") == "paper-base"


def test_an_occupied_out_is_refused(toy_runs):
    with pytest.raises(AiaynError, match=r"already holds a run; pass --resume to continue it"):
        resolve(TrainRequest(task="reverse", out=toy_runs / "reverse"))


def test_resume_keeps_the_model_and_takes_new_training_settings(toy_runs):
    run = toy_runs / "reverse"
    saved = json.loads((run / "config.json").read_text())
    # repeating the original command (the same model fields) is fine
    request = TrainRequest(task="reverse", out=run, resume=True, sets=["d_model=16", "max_steps=8"])
    task, _, model_config, train_config, _ = resolve(request)
    assert model_config == ModelConfig.from_dict(saved["model"])
    assert train_config.max_steps == 8 and train_config.seed == saved["train"]["seed"]
    assert task.opts["n_train"] == saved["task_options"]["n_train"]  # the run's own options


def test_resume_refuses_a_changed_model_field_or_another_task(toy_runs):
    run = toy_runs / "reverse"
    with pytest.raises(AiaynError) as error:
        resolve(TrainRequest(task="reverse", out=run, resume=True, sets=["d_model=32"]))
    assert str(error.value) == (
        "a resumed run keeps its model: --set d_model=32 differs from the run's d_model=16"
    )
    with pytest.raises(AiaynError, match="holds a 'reverse' run, not 'copy'"):
        resolve(TrainRequest(task="copy", out=run, resume=True))
    with pytest.raises(AiaynError, match="run directory .*none does not exist"):
        resolve(TrainRequest(task="reverse", out=run.parent / "none", resume=True))


def test_an_encoder_decoder_task_trains_the_lstm_baseline(tmp_path):
    out = tmp_path / "lstm"
    result = train(
        TrainRequest(
            task="reverse", out=out, device="cpu", sets=[*TINY, "arch=lstm-encoder-decoder"]
        )
    )
    assert json.loads((out / "config.json").read_text())["model"]["arch"] == "lstm-encoder-decoder"
    assert type(result.model).__name__ == "LSTMEncoderDecoder"
    assert result.summary["steps"] == 2 and result.summary["reloaded_model_generates_the_same"]


def test_a_decoder_only_arch_on_an_encoder_decoder_task_is_refused(tmp_path):
    out = tmp_path / "wrong"
    with pytest.raises(AiaynError) as error:
        train(
            TrainRequest(task="reverse", out=out, device="cpu", sets=[*TINY, "arch=decoder-only"])
        )
    assert "task 'reverse' trains a encoder-decoder model, not decoder-only" in str(error.value)
    assert not (out / "config.json").exists()  # nothing recorded for a run that cannot train


def test_a_setting_the_data_fixes_cannot_be_changed(tmp_path):
    with pytest.raises(
        AiaynError, match=r"--set vocab_size=99 conflicts with the data .*'reverse'"
    ):
        train(
            TrainRequest(
                task="reverse", out=tmp_path / "v", device="cpu", sets=[*TINY, "vocab_size=99"]
            )
        )


def test_a_run_records_the_precision_auto_chose_and_what_it_trained(toy_runs):
    config = json.loads((toy_runs / "reverse" / "config.json").read_text())
    assert config["train"]["precision"] == resolve_precision("auto", torch.device("cpu"))
    summary = json.loads((toy_runs / "reverse" / "summary.json").read_text())
    assert summary["task"] == "reverse" and summary["steps"] == 5
    assert summary["reloaded_model_generates_the_same"] is True
    assert json.loads((toy_runs / "reverse" / "untrained.json").read_text()).keys() >= {"loss"}


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_resumes_exactly(tmp_path):
    """What SIGKILL leaves before the first checkpoint: config.json, the tokenizer,
    untrained.json and part of metrics.jsonl. `--resume` then starts again from step 0 (without
    evaluating the baseline again) and must end with the uninterrupted run's weights (dropout
    on, so the random generators matter)."""
    sets = [*TINY, "max_steps=4", "checkpoint_every=100", "p_drop=0.1", "precision=fp32"]
    straight = train(
        TrainRequest(task="reverse", out=tmp_path / "straight", device="cpu", sets=sets)
    )
    killed = Path(shutil.copytree(straight.run_dir, tmp_path / "killed"))
    for name in ("model.safetensors", "model.safetensors.sha256", "summary.json"):
        (killed / name).unlink()
    shutil.rmtree(killed / "checkpoints")
    assert (killed / "untrained.json").is_file()
    train(TrainRequest(task="reverse", out=killed, device="cpu", resume=True))
    expected = (straight.run_dir / "model.safetensors").read_bytes()
    assert (killed / "model.safetensors").read_bytes() == expected
    assert _losses(killed) == _losses(straight.run_dir)


# SIGKILL of a real `aiayn train` process. The worker holds the run at the chosen point (after
# step N is in metrics.jsonl, or halfway through writing the checkpoint of step N) so the test
# observes the point in the run directory and kills there; nothing waits on a guessed delay.
WORKER = Path(__file__).resolve().parents[2] / "benchmarks" / "kill_resume_worker.py"
KILL_SETS = [
    *TINY,
    "max_steps=10",
    "eval_every=5",
    "log_every=1",
    "checkpoint_every=4",
    "keep_checkpoints=2",
    "p_drop=0.1",  # dropout on: the random generators must be restored too
    "precision=fp32",
]


def _losses(run: Path) -> list[tuple[int, float]]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [(r["step"], r["train_loss"]) for r in records if "train_loss" in r]


def _last_step(run: Path) -> int:
    path = run / "metrics.jsonl"
    lines = path.read_text().split("\n")[:-1] if path.is_file() else []  # whole lines only
    return max((json.loads(line)["step"] for line in lines if line), default=0)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    train(TrainRequest(task="reverse", out=out, device="cpu", sets=KILL_SETS))
    return out


@pytest.mark.slow
@pytest.mark.parametrize(
    "kill", ["after step 3 (before the first checkpoint)", "writing checkpoint step 8"]
)
def test_a_run_killed_by_sigkill_resumes_exactly(kill, uninterrupted, tmp_path):
    out, flag = tmp_path / "run", tmp_path / "pause"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "AIAYN_PAUSE_FLAG": str(flag)}
    if kill.startswith("after"):
        env["AIAYN_HOLD_AT_STEP"] = "3"
        reached = lambda: _last_step(out) >= 3  # noqa: E731
    else:
        env["AIAYN_PAUSE_STEP"] = "8"
        flag.touch()
        reached = Path(f"{flag}.at").is_file
    sets = [arg for s in KILL_SETS for arg in ("--set", s)]
    command = [sys.executable, str(WORKER), "train", "reverse", "--out", str(out), *sets]
    proc = subprocess.Popen(
        [*command, "--device", "cpu"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 300
        while not reached() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # polling what the run has written, not waiting for a guess
        assert proc.poll() is None, f"the run ended before the kill point: {proc.stderr.read()}"
        assert reached()
    finally:
        proc.kill()
        proc.wait()
        proc.stderr.close()
    if kill.startswith("after"):
        assert not (out / "checkpoints").is_dir() or not any((out / "checkpoints").iterdir())
        assert _last_step(out) == 3  # held there: killed exactly after step 3
    else:
        assert "step-0000008.tmp-" in Path(f"{flag}.at").read_text()
        assert (out / "checkpoints" / "step-0000004").is_dir()  # resumes from here
    train(TrainRequest(task="reverse", out=out, device="cpu", resume=True))
    assert _losses(out) == _losses(uninterrupted)
    assert [s for s, _ in _losses(out)] == list(range(1, 11))
    want = (uninterrupted / "model.safetensors").read_bytes()
    assert (out / "model.safetensors").read_bytes() == want
