"""RunLog: metrics.jsonl is always written; TensorBoard and plots are options; resume truncates."""

import json

from aiayn.training.run_log import RunLog


def _records(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(log, steps):
    for step in steps:
        log.record({"step": step, "train_loss": 1.0 / step, "lr": 1e-3})


def test_default_writes_jsonl_tensorboard_and_plots(tmp_path):
    log = RunLog(tmp_path)
    log.start(resumed_at=None)
    _write(log, [1, 2, 3])
    log.close()
    assert [r["step"] for r in _records(tmp_path / "metrics.jsonl")] == [1, 2, 3]
    assert any((tmp_path / "tensorboard").iterdir())
    assert list(tmp_path.glob("*.png"))


def test_tensorboard_and_plots_can_be_switched_off(tmp_path):
    log = RunLog(tmp_path, tensorboard=False, plots=False)
    log.start(resumed_at=None)
    _write(log, [1, 2])
    log.close()
    assert len(_records(tmp_path / "metrics.jsonl")) == 2
    assert not (tmp_path / "tensorboard").exists()
    assert not list(tmp_path.glob("*.png"))


def test_resume_drops_records_after_the_checkpoint_and_a_fresh_start_clears(tmp_path):
    log = RunLog(tmp_path, tensorboard=False, plots=False)
    log.start(resumed_at=None)
    _write(log, [1, 2, 3, 4])
    RunLog(tmp_path, tensorboard=False).start(resumed_at=2)
    assert [r["step"] for r in _records(tmp_path / "metrics.jsonl")] == [1, 2]
    RunLog(tmp_path, tensorboard=False).start(resumed_at=None)
    assert not (tmp_path / "metrics.jsonl").exists()


def test_resume_drops_a_record_the_killed_run_was_halfway_through_writing(tmp_path, caplog):
    log = RunLog(tmp_path, tensorboard=False, plots=False)
    log.start(resumed_at=None)
    _write(log, [1, 2, 3])
    path = tmp_path / "metrics.jsonl"
    path.write_text(path.read_text() + '{"step": 4, "train_lo')  # SIGKILL mid-append
    with caplog.at_level("WARNING", logger="aiayn.training.run_log"):
        RunLog(tmp_path, tensorboard=False).start(resumed_at=3)
    assert [r["step"] for r in _records(path)] == [1, 2, 3]
    assert "dropped a partly written record" in caplog.text


def test_other_ranks_write_nothing(tmp_path):
    log = RunLog(tmp_path, enabled=False)
    log.start(resumed_at=None)
    _write(log, [1])
    log.close()
    assert list(tmp_path.iterdir()) == []
