"""Run the tests on one torch thread, and the small trained runs that several test files read.

The models in the tests are tiny: a second intra-op thread saves nothing, and on a machine
busy with other processes the threads wait on each other, making the suite several times slower.

The trained runs are session-scoped, trained once for the whole suite: a test reads them and
never writes into them (it copies a run first when it must change it).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("AIAYN_DATA_DIR") or REPO.parent / "shared" / "data")

# A toy run small enough to train in well under a second: 5 steps of a 16-wide model.
TINY_TOY = [
    "d_model=16",
    "n_heads=2",
    "d_ff=32",
    "max_steps=5",
    "n_train=64",
    "n_val=16",
    "eval_every=5",
    "batch_size=16",
    "tensorboard=false",
    "plots=false",
]
# SST-2 from scratch on a slice: a 300-piece BPE vocabulary and a one-layer encoder, 3 steps.
TINY_SST2 = [
    "n_train=32",
    "n_dev=16",
    "max_seq_len=16",
    "batch_tokens=256",
    "log_every=1",
    "max_steps=3",
    "warmup_steps=1",
    "eval_every=3",
    "checkpoint_every=1000",
    "d_model=32",
    "n_heads=2",
    "d_ff=64",
    "n_layers=1",
    "bpe_vocab_size=300",
]


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def toy_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the run directories `reverse` (encoder-decoder) and `reverse-lm`
    (decoder-only), each trained for 5 steps. Read only."""
    from aiayn.app.train import TrainRequest, train

    root = tmp_path_factory.mktemp("toy_runs")
    for task in ("reverse", "reverse-lm"):
        train(TrainRequest(task=task, out=root / task, device="cpu", sets=TINY_TOY))
    return root


@pytest.fixture(scope="session")
def sst2_run(tmp_path_factory: pytest.TempPathFactory):  # -> aiayn.app.train.TrainResult
    """An SST-2 classifier trained from scratch for 3 steps on 32 sentences (needs the local
    SST-2 copy). Read only."""
    if not (
        (DATA_DIR / "sst2" / "train.tsv").is_file() and (DATA_DIR / "sst2" / "dev.tsv").is_file()
    ):
        pytest.skip(f"no SST-2 copy in {DATA_DIR}/sst2 (set AIAYN_DATA_DIR)")
    from aiayn.app.train import TrainRequest, train

    out = tmp_path_factory.mktemp("sst2_run") / "scratch"
    return train(
        TrainRequest(task="sst2", out=out, device="cpu", data_dir=DATA_DIR, sets=TINY_SST2)
    )
