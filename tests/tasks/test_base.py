"""What every task shares: checked options merged over the defaults, the architectures it accepts,
and the model it builds (one of ours, or a baseline with the same interface)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from aiayn.baselines import LSTMEncoderDecoder
from aiayn.config import ModelConfig, TrainConfig
from aiayn.errors import AiaynError
from aiayn.models import DecoderOnlyLM, EncoderDecoder
from aiayn.tasks.base import Task
from aiayn.tasks.toy import ReverseLMTask, ReverseTask
from aiayn.tokenizers import BOS_ID, PAD_ID


class Bare(Task):
    """A task that sets only what it must."""

    name: ClassVar[str] = "bare"
    arch: ClassVar[str] = "encoder-decoder"


class Optioned(Bare):
    options: ClassVar[dict[str, Any]] = {"size": 3, "mode": "fast"}


def test_options_are_merged_over_the_defaults():
    task = Optioned({"size": 5})
    assert task.opts == {"size": 5, "mode": "fast"}
    assert Optioned.options == {"size": 3, "mode": "fast"}  # the class's defaults unchanged
    assert Optioned().opts == Optioned.options and Optioned().opts is not Optioned.options
    assert ReverseTask({"n_train": 7}).opts == {**ReverseTask.options, "n_train": 7}


def test_an_unknown_option_is_refused_naming_the_known_ones():
    with pytest.raises(AiaynError) as error:
        Optioned({"sise": 5, "colour": 1})
    assert str(error.value) == "unknown option(s) colour, sise for task 'bare'; known: mode, size"
    with pytest.raises(AiaynError, match="for task 'bare'; known: none"):
        Bare({"size": 5})
    with pytest.raises(AiaynError, match="unknown option.*n_layers.*'reverse'.*max_seq_len"):
        ReverseTask({"n_layers": 2})


def test_the_data_dir_is_kept(tmp_path):
    assert Bare(data_dir=tmp_path).data_dir == tmp_path and Bare().data_dir is None


def test_a_task_accepts_its_own_arch_and_baselines_with_its_interface():
    assert Bare().accepts("encoder-decoder") and Bare().accepts("lstm-encoder-decoder")
    assert not Bare().accepts("decoder-only") and not Bare().accepts("encoder-classifier")
    lm = ReverseLMTask()
    assert lm.accepts("decoder-only") and not lm.accepts("lstm-encoder-decoder")


CONFIG = dict(vocab_size=20, d_model=16, n_heads=2, d_ff=32, n_layers=1, max_len=32)


def test_build_model_dispatches_a_baseline_arch():
    task = Bare()
    assert type(task.build_model(ModelConfig(**CONFIG))) is EncoderDecoder
    baseline = task.build_model(ModelConfig(arch="lstm-encoder-decoder", **CONFIG))
    assert isinstance(baseline, LSTMEncoderDecoder)
    assert type(task.build_model(ModelConfig(arch="decoder-only", **CONFIG))) is DecoderOnlyLM


def test_what_a_task_need_not_say():
    task = Bare()
    assert (task.best_metric, task.best_mode) == ("val_loss", "min")
    assert task.never_targets == (PAD_ID, BOS_ID)  # label smoothing leaves them out
    assert task.default_preset == "tiny" and task.default_train == {} and task.default_model == {}
    assert task.loss_fn(TrainConfig()) is None  # the trainer's own loss
    assert task.summarize(None, {}) == {} and task.proofs({}) == []
    for method, args in (
        (task.prepare, (None, TrainConfig())),
        (task.load, (None,)),
        (task.train_source, (TrainConfig(),)),
        (task.evaluate, (None,)),
        (task.reference_outputs, (None,)),
    ):
        with pytest.raises(NotImplementedError):
            method(*args)


class Typed(Bare):
    options: ClassVar[dict[str, Any]] = {
        "count": 3,
        "rate": 0.5,
        "name": "x",
        "flag": False,
        "limit": 10,
        "file": None,
    }
    positive_options: ClassVar[frozenset[str]] = frozenset({"count"})
    nullable_options: ClassVar[frozenset[str]] = frozenset({"limit"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"count": "3"}, "task option count must be an integer, got '3'"),
        ({"count": True}, "task option count must be an integer, got True"),
        ({"count": 2.0}, "task option count must be an integer, got 2.0"),
        ({"rate": "fast"}, "task option rate must be a number, got 'fast'"),
        ({"name": 3}, "task option name must be a string, got 3"),
        ({"flag": 1}, "task option flag must be true or false, got 1"),
        ({"count": 0}, "task option count must be >= 1, got 0"),
        ({"rate": -0.5}, "task option rate must be >= 0, got -0.5"),
        ({"limit": -1}, "task option limit must be >= 0, got -1"),
        ({"name": None}, "task option name must be a string, got None"),
    ],
)
def test_options_are_checked_by_type_and_range(options, message):
    with pytest.raises(AiaynError) as error:
        Typed(options)
    assert str(error.value) == message


def test_what_the_option_checks_accept():
    task = Typed({"rate": 1, "limit": None, "file": 42, "count": 1})
    assert task.opts["rate"] == 1.0 and type(task.opts["rate"]) is float  # an int for a float
    assert task.opts["limit"] is None  # a nullable option
    assert task.opts["file"] == 42  # an option whose default is None: the task's to check
