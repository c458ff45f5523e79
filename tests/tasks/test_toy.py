"""The toy tasks: their vocabulary and data, and the three proofs a working model must give (the
user's stated goals), on small configurations."""

import os
import subprocess
import sys

import pytest
import torch

from aiayn.app.train import TrainRequest, train
from aiayn.config import TrainConfig
from aiayn.decoding import greedy_decode
from aiayn.errors import AiaynError
from aiayn.nn import attention
from aiayn.tasks.toy import (
    BOS,
    EOS,
    N_SPECIAL,
    PAD,
    SEP,
    CopyTask,
    ReverseLMTask,
    ReverseTask,
    SymbolVocab,
    pad,
    random_sequences,
)

FAST = ["d_model=32", "n_heads=2", "d_ff=64", "log_every=25", "checkpoint_every=1000"]


def _train(tmp_path, name, sets):
    request = TrainRequest(task="reverse", out=tmp_path / name, device="cpu", sets=[*FAST, *sets])
    return train(request)


@pytest.mark.slow
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


@pytest.mark.slow
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


@pytest.mark.slow
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


# The mask check (reverse-lm): 5 symbols, sequences of 5. A causal mask that holds leaves the
# first half at chance (1/5: each symbol is random and unseen) and lets the second half, a copy
# of what came before, be learned; a mask that leaks lets the first half read the very token it
# is asked for. 400 held-out sequences x 5 positions: at chance the first-half accuracy has a
# standard deviation of about 0.009, so the 0.05 band is over 5 of them wide.
MASK_CHECK = [
    "n_symbols=5",
    "seq_len=5",
    "n_train=2000",
    "n_val=400",
    "d_model=32",
    "n_heads=2",
    "d_ff=64",
    "n_layers=2",
    "batch_size=50",
    "lr=0.003",
    "warmup_steps=25",
    "log_every=50",
    "checkpoint_every=1000",
    "tensorboard=false",
    "plots=false",
]


def _mask_check(tmp_path, steps: int) -> dict:
    sets = [*MASK_CHECK, f"max_steps={steps}", f"eval_every={steps}"]
    request = TrainRequest(task="reverse-lm", out=tmp_path / "run", device="cpu", sets=sets)
    return train(request).summary


@pytest.mark.slow
def test_mask_check_first_half_at_chance_second_half_near_100_percent(tmp_path):
    s = _mask_check(tmp_path, steps=250)
    assert s["chance_accuracy"] == 0.2
    assert abs(s["first_half_accuracy"] - 0.2) < 0.05, s["per_position_accuracy"]
    assert s["second_half_accuracy"] > 0.95, s["per_position_accuracy"]


@pytest.mark.slow
def test_mask_check_fails_when_the_mask_leaks(tmp_path, monkeypatch):
    """The same check on a model whose self-attention sees the future: the first half is far
    above chance, so the band of the test above would fail it."""
    real = attention.fast_scaled_dot_product_attention

    def leaking(q, k, v, mask=None, *, causal=False, dropout_p=0.0):
        return real(q, k, v, mask, causal=False, dropout_p=dropout_p)

    monkeypatch.setattr(attention, "fast_scaled_dot_product_attention", leaking)
    s = _mask_check(tmp_path, steps=100)
    # after 100 steps about 0.5, where the band of the test above ends at 0.25
    assert s["first_half_accuracy"] > 0.35, s["per_position_accuracy"]


# ------------------------------------------------------------------------------ data, no training
def test_symbols_are_numbers_after_the_special_tokens(tmp_path):
    vocab = SymbolVocab(5)
    assert vocab.vocab_size == N_SPECIAL + 5
    assert vocab.encode("3 1 4") == [7, 5, 8]
    assert vocab.decode([BOS, 7, 5, 8, EOS, PAD]) == "3 1 4"  # specials are not text
    for bad in ("5", "x", "-1", "1.5"):
        with pytest.raises(AiaynError, match=f"unknown symbol {bad!r}.*0..4"):
            vocab.encode(f"1 {bad}")
    vocab.save(tmp_path)
    assert (tmp_path / "vocab.json").read_text().strip() == '{"kind": "symbols", "n_symbols": 5}'


def test_random_sequences_are_seeded_and_within_their_lengths():
    seqs = random_sequences(200, n_symbols=6, min_len=2, max_len=5, seed=7)
    assert seqs == random_sequences(200, n_symbols=6, min_len=2, max_len=5, seed=7)
    assert seqs != random_sequences(200, n_symbols=6, min_len=2, max_len=5, seed=8)
    assert {len(s) for s in seqs} == {2, 3, 4, 5}
    assert {t for s in seqs for t in s} == set(range(N_SPECIAL, N_SPECIAL + 6))
    assert pad([[5, 6], [7]]).tolist() == [[5, 6], [7, PAD]]


def test_copy_and_reverse_targets_and_batches(tmp_path):
    options = {"n_train": 8, "n_val": 4, "max_seq_len": 5}
    copy, reverse = CopyTask(options), ReverseTask(options)
    assert copy.prepare(tmp_path / "c", TrainConfig())["max_len"] == 2 * 5 + 52
    reverse.prepare(tmp_path / "r", TrainConfig())
    seq = [5, 6, 7]
    assert copy.target(seq) == seq and reverse.target(seq) == [7, 6, 5]
    batch = reverse.train_source(TrainConfig(batch_size=4)).epoch_batches(0)[0]
    assert batch["tgt_in"][:, 0].eq(BOS).all()
    for src, tgt_in, tgt_out in zip(batch["src"], batch["tgt_in"], batch["tgt_out"], strict=True):
        real = src[src != PAD].tolist()
        assert tgt_out[tgt_out != PAD].tolist() == [*real[::-1], EOS]
        assert tgt_in[tgt_in != PAD].tolist() == [BOS, *real[::-1]]
    # the splits differ: validation sentences are not the training ones
    assert reverse._sequences("val") != reverse._sequences("train")[:4]


def test_reverse_lm_examples_are_bos_x_sep_reversed_x(tmp_path):
    task = ReverseLMTask({"n_train": 6, "n_val": 3, "seq_len": 4})
    assert task.prepare(tmp_path, TrainConfig())["max_len"] == 2 * 4 + 2
    for row in task._examples("val").tolist():
        x = row[1:5]
        assert row == [BOS, *x, SEP, *x[::-1]]
    batch = task.train_source(TrainConfig(batch_size=3)).epoch_batches(0)[0]
    assert torch.equal(batch["inputs"][:, 1:], batch["targets"][:, :-1])  # shifted by one


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"n_symbols": 1}, "n_symbols must be an integer >= 2"),
        ({"min_seq_len": 5, "max_seq_len": 3}, "need 1 <= min_seq_len <= max_seq_len, got 5, 3"),
    ],
)
def test_bad_options_are_named(tmp_path, options, message):
    with pytest.raises(AiaynError, match=message):
        ReverseTask(options).prepare(tmp_path, TrainConfig())
