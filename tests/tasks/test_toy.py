"""The three proofs a working model must give (the user's stated goals), on small configurations."""

import os
import subprocess
import sys

import torch

from aiayn.app.train import TrainRequest, train
from aiayn.decoding import greedy_decode
from aiayn.tasks.toy import BOS, EOS, pad

FAST = ["d_model=32", "n_heads=2", "d_ff=64", "log_every=25", "checkpoint_every=1000"]


def _train(tmp_path, name, sets):
    request = TrainRequest(task="reverse", out=tmp_path / name, device="cpu", sets=[*FAST, *sets])
    return train(request)


def test_proof_1_near_zero_loss_on_a_tiny_training_set(tmp_path):
    result = _train(
        tmp_path,
        "tiny",
        [
            "n_train=16",
            "batch_size=16",
            "max_steps=250",
            "lr=0.003",
            "warmup_steps=20",
            "eval_every=250",
            "min_seq_len=4",
            "max_seq_len=6",
            "n_val=64",
        ],
    )
    assert result.summary["train_loss"] < 0.01


def test_proof_2_trained_model_beats_the_untrained_baseline(tmp_path):
    result = _train(
        tmp_path,
        "base",
        ["n_train=2000", "max_steps=150", "eval_every=150", "n_val=200", "max_seq_len=8"],
    )
    s = result.summary
    assert s["val_loss"] < 0.5 * s["untrained_val_loss"]
    assert s["val_token_accuracy"] > s["untrained_token_accuracy"] + 0.2
    assert s["exact_match"] >= s["untrained_exact_match"]


def test_proof_3_saved_model_generates_the_same_in_a_fresh_process(tmp_path):
    result = _train(
        tmp_path,
        "proof3",
        ["n_train=1000", "max_steps=60", "eval_every=60", "n_val=50", "max_seq_len=8"],
    )
    assert result.summary["reloaded_model_generates_the_same"]
    lines = ["3 1 4 1 5", "9 2 6 5 3 5", "8 9 7", "0 0 1 2 3 4 5 6"]
    vocab = result.task.vocab
    src = pad([vocab.encode(line) for line in lines])
    with torch.no_grad():
        in_memory = greedy_decode(result.model, src, bos_id=BOS, eos_id=EOS)
    expected = [vocab.decode(ids) for ids in in_memory]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "aiayn",
            "translate",
            str(result.run_dir),
            "--beam",
            "1",
            "--device",
            "cpu",
        ],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == expected
