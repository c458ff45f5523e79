"""`aiayn train --nproc N`: the arguments the workers get, the error a worker hands to the
launcher, and the one line that names the first cause among the failed workers."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from torch.distributed.elastic.multiprocessing.errors import ProcessFailure

from aiayn.cli.launcher import (
    WorkerFailedError,
    _without_nproc,
    describe_failures,
    hand_error_to_launcher,
    launch,
)
from aiayn.errors import AiaynError
from aiayn.training.distributed import PEER_LOST


@pytest.mark.parametrize(
    ("argv", "kept"),
    [
        (["train", "copy", "--nproc", "2", "--out", "r"], ["train", "copy", "--out", "r"]),
        (["train", "copy", "--nproc=4"], ["train", "copy"]),
        (["--nproc", "2", "train", "copy"], ["train", "copy"]),
        (["train", "copy"], ["train", "copy"]),
        # a value that only mentions nproc is somebody else's
        (["train", "copy", "--set", "nproc=3"], ["train", "copy", "--set", "nproc=3"]),
        (["train", "copy", "--out", "--nproc-run"], ["train", "copy", "--out", "--nproc-run"]),
    ],
)
def test_the_workers_get_the_command_without_nproc(argv, kept):
    assert _without_nproc(argv) == kept


def _failure(rank: int, exitcode: int, *, error_file: str = "<N/A>") -> ProcessFailure:
    return ProcessFailure(local_rank=rank, pid=10 + rank, exitcode=exitcode, error_file=error_file)


def _worker_error(tmp_path: Path, monkeypatch, name: str, message: str) -> str:
    """The error file a worker writes through `hand_error_to_launcher`."""
    path = tmp_path / f"{name}.json"
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(path))
    hand_error_to_launcher(message)
    return str(path)


def test_a_killed_worker_is_named_as_the_cause():
    killed = ProcessFailure(local_rank=1, pid=11, exitcode=-signal.SIGKILL, error_file="<N/A>")
    stopped = ProcessFailure(local_rank=0, pid=10, exitcode=-signal.SIGTERM, error_file="<N/A>")
    message, code = describe_failures({0: stopped, 1: killed})
    assert message.startswith("rank 1 (pid 11) was killed by SIGKILL") and "--resume" in message
    assert code == 128 + signal.SIGKILL


def test_a_workers_own_error_is_reported_as_it_wrote_it(tmp_path, monkeypatch):
    path = _worker_error(tmp_path, monkeypatch, "r1", "unknown task option 'x'")
    assert json.loads(Path(path).read_text())["message"] == "unknown task option 'x'"
    message, code = describe_failures(
        {0: _failure(0, -signal.SIGTERM), 1: _failure(1, 2, error_file=path)}
    )
    assert (message, code) == ("unknown task option 'x'", 2)


def test_a_worker_that_lost_its_peers_is_not_the_cause(tmp_path, monkeypatch):
    lost = _worker_error(tmp_path, monkeypatch, "r0", f"rank 0 {PEER_LOST} (timeout)")
    own = _worker_error(tmp_path, monkeypatch, "r1", "CUDA out of memory")
    failures = {0: _failure(0, 1, error_file=lost), 1: _failure(1, 1, error_file=own)}
    assert describe_failures(failures) == ("CUDA out of memory", 1)
    # with only peer-lost reports, one of them is still the answer
    assert describe_failures({0: _failure(0, 1, error_file=lost)})[0].startswith("rank 0 lost")


def test_a_crash_without_an_error_file_points_at_its_traceback():
    message, code = describe_failures({0: _failure(0, -signal.SIGTERM), 3: _failure(3, 1)})
    assert (message, code) == ("rank 3 failed with exit code 1 (its traceback is above)", 1)


def test_the_sigterm_the_survivors_get_is_the_last_resort():
    message, code = describe_failures({0: _failure(0, -signal.SIGTERM)})
    assert message.startswith("rank 0 (pid 10) was killed by SIGTERM")
    assert code == 128 + signal.SIGTERM


def test_hand_error_to_launcher_without_an_error_file_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv("TORCHELASTIC_ERROR_FILE", raising=False)
    monkeypatch.chdir(tmp_path)
    hand_error_to_launcher("nothing to hand")
    assert list(tmp_path.iterdir()) == []


def test_a_failed_worker_error_carries_its_exit_code():
    error = WorkerFailedError("rank 1 failed", 137)
    assert (
        isinstance(error, AiaynError) and error.exit_code == 137 and str(error) == "rank 1 failed"
    )


@pytest.mark.parametrize("nproc", [0, -1, 1.5, "2"])
def test_launch_refuses_a_process_count_that_is_not_a_positive_integer(nproc):
    with pytest.raises(AiaynError, match="--nproc must be a positive integer"):
        launch(nproc, ["train", "copy"])  # type: ignore[arg-type]
