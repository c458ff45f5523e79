"""A run directory read back: its config, the weights each --checkpoint names, and the task, model
and configs `load_run` rebuilds from it; every problem is one line naming the run."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from aiayn.app.runs import CHECKPOINTS, load_run, read_run_config, weights_file, write_run_config
from aiayn.cli import main
from aiayn.config import ModelConfig, TrainConfig
from aiayn.errors import AiaynError
from aiayn.tasks import get_task
from aiayn.tasks.toy import ReverseTask


@pytest.fixture
def reverse(toy_runs) -> Path:
    """The shared `reverse` run (read only)."""
    return toy_runs / "reverse"


@pytest.fixture
def copy(reverse, tmp_path) -> Path:
    """A copy of the `reverse` run that a test may change."""
    return Path(shutil.copytree(reverse, tmp_path / "reverse"))


def test_the_config_round_trips(tmp_path):
    task = get_task("reverse", {"n_train": 8})
    model, train = ModelConfig(vocab_size=14), TrainConfig(max_steps=3)
    write_run_config(tmp_path, task=task, model=model, train=train)
    data = read_run_config(tmp_path)
    assert data["task"] == "reverse" and data["task_options"]["n_train"] == 8
    assert ModelConfig.from_dict(data["model"]) == model
    assert TrainConfig.from_dict(data["train"]) == train


def test_read_run_config_errors(tmp_path):
    with pytest.raises(AiaynError, match="run directory .*nothing does not exist"):
        read_run_config(tmp_path / "nothing")
    with pytest.raises(AiaynError, match=r"is not a run directory \(no config.json\); train one"):
        read_run_config(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(AiaynError, match="config.json is not valid JSON"):
        read_run_config(tmp_path)
    (tmp_path / "config.json").write_text("[1, 2]")
    with pytest.raises(AiaynError, match=r"does not describe a run \(not a JSON object\)"):
        read_run_config(tmp_path)


def test_load_run_rebuilds_the_task_model_and_configs(reverse):
    run = load_run(reverse, device=torch.device("cpu"))
    data = json.loads((reverse / "config.json").read_text())
    assert run.directory == reverse and isinstance(run.task, ReverseTask)
    assert run.task.opts == {**ReverseTask.options, **data["task_options"]}
    assert run.model_config == ModelConfig.from_dict(data["model"])
    assert run.train_config == TrainConfig.from_dict(data["train"])
    assert not run.model.training
    saved = load_file(str(reverse / "model.safetensors"))
    state = run.model.state_dict()
    assert all(torch.equal(state[k], v) for k, v in saved.items())


def test_load_run_refuses_a_config_that_does_not_describe_a_run(copy):
    data = json.loads((copy / "config.json").read_text())
    (copy / "config.json").write_text(
        json.dumps({**data, "model": {**data["model"], "d_modle": 3}})
    )
    with pytest.raises(AiaynError, match="config.json does not describe a run: .*d_modle"):
        load_run(copy)
    (copy / "config.json").write_text(json.dumps({k: v for k, v in data.items() if k != "train"}))
    with pytest.raises(AiaynError, match="config.json does not describe a run: 'train'"):
        load_run(copy)
    (copy / "config.json").write_text(json.dumps({**data, "task": "nope"}))
    with pytest.raises(AiaynError, match="unknown task 'nope'"):
        load_run(copy)


def test_weights_file_names_each_checkpoint(reverse):
    assert CHECKPOINTS == ("final", "best", "latest", "averaged")
    assert weights_file(reverse) == reverse / "model.safetensors"
    best = json.loads((reverse / "checkpoints" / "best.json").read_text())["name"]
    assert weights_file(reverse, "best") == reverse / "checkpoints" / best / "model.safetensors"
    latest = (reverse / "checkpoints" / "latest").read_text().strip()
    assert weights_file(reverse, "latest") == reverse / "checkpoints" / latest / "model.safetensors"
    with pytest.raises(AiaynError, match="checkpoint must be one of final, best, latest, averaged"):
        weights_file(reverse, "step-5")


def test_averaged_weights_are_those_aiayn_average_wrote(copy):
    with pytest.raises(AiaynError, match=r"has no averaged weights; run `aiayn average .*`"):
        weights_file(copy, "averaged")
    shutil.copyfile(copy / "model.safetensors", copy / "averaged.safetensors")
    assert weights_file(copy, "averaged") == copy / "averaged.safetensors"
    assert load_run(copy, checkpoint="averaged").model is not None


def test_a_run_without_checkpoints_or_final_weights(copy):
    shutil.rmtree(copy / "checkpoints")
    with pytest.raises(AiaynError, match="has no best checkpoint"):
        weights_file(copy, "best")
    with pytest.raises(AiaynError, match="has no checkpoint"):
        weights_file(copy, "latest")
    (copy / "model.safetensors").unlink()
    with pytest.raises(
        AiaynError, match=r"has no trained weights \(model.safetensors\); is training done"
    ):
        load_run(copy)


@pytest.mark.parametrize(
    ("field", "value", "explanation"),
    [
        ("d_model", 24, r"d_model differs: \S+ is \((\d+, )?16,?\) in the file but "
         r"\((\d+, )?24,?\)"),
        ("vocab_size", 20, r"vocab_size \(a different tokenizer or vocabulary\?\) differs: .*"
         r"is \(14, 16\) in the file but \(20, 16\) in the model"),
        ("d_ff", 48, r"d_ff differs: .*feed_forward\.w_1\.\w+ is \(32.*\) in the file but \(48"),
        ("n_layers", 3, "n_layers differs: the file has 2 encoder layers, the model 3"),
    ],
)  # fmt: skip
def test_weights_of_another_shape_are_explained_by_the_field(
    copy, capsys, field, value, explanation
):
    """config.json edited after training: the library and the CLI both name the field that
    differs, in one line, before torch's load_state_dict says anything."""
    data = json.loads((copy / "config.json").read_text())
    assert data["model"][field] != value
    data["model"][field] = value
    (copy / "config.json").write_text(json.dumps(data))
    with pytest.raises(AiaynError) as error:
        load_run(copy)
    message = str(error.value)
    assert message.startswith(f"the weights in {copy / 'model.safetensors'} do not fit the model: ")
    assert re.search(explanation, message), message
    assert "\n" not in message and "state_dict" not in message
    assert main(["eval", str(copy), "--device", "cpu"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"aiayn: error: {message}"]
