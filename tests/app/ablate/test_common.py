"""The ablations' shared parts: toy batches, the training loop, accuracy, the written report."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from aiayn.app.ablate import NAMES, run_ablation
from aiayn.app.ablate._common import (
    Report,
    Settings,
    fmt,
    markdown_table,
    mean_std,
    reverse_lm_batch,
    seq2seq_batch,
    smooth,
    teacher_forced_accuracy,
    toy_config,
    train,
    write_report,
)
from aiayn.errors import AiaynError
from aiayn.models import build_model
from aiayn.tasks.toy import BOS, EOS, PAD, SEP


def test_reverse_batches_hold_the_reversed_source_between_bos_and_eos() -> None:
    b = seq2seq_batch("reverse", torch.Generator().manual_seed(0), B=8, lengths=(2, 5))
    for src, tgt_in, tgt_out in zip(b["src"], b["tgt_in"], b["tgt_out"], strict=True):
        x = src[src != PAD]
        assert 2 <= len(x) <= 5
        assert tgt_in[0] == BOS and tgt_in[1 : len(x) + 1].tolist() == x.flip(0).tolist()
        assert tgt_out[: len(x)].tolist() == x.flip(0).tolist() and tgt_out[len(x)] == EOS
    copy = seq2seq_batch("copy", torch.Generator().manual_seed(0), B=8, lengths=(3, 3))
    assert torch.equal(copy["tgt_out"][:, :3], copy["src"])


def test_reverse_lm_batches_are_bos_x_sep_reversed_x_shifted_by_one() -> None:
    b = reverse_lm_batch(torch.Generator().manual_seed(0), B=4, L=3)
    assert b["inputs"].shape == b["targets"].shape == (4, 7)
    assert torch.equal(b["inputs"][:, 1:], b["targets"][:, :-1])
    seq = torch.cat([b["inputs"][:, :1], b["targets"]], 1)
    assert (seq[:, 0] == BOS).all() and (seq[:, 4] == SEP).all()
    assert torch.equal(seq[:, 5:], seq[:, 1:4].flip(1))


def test_train_records_losses_and_each_layers_gradient_norm_and_learns() -> None:
    torch.manual_seed(0)
    model = build_model(toy_config("decoder-only", d_model=32, d_ff=64, n_layers=3))
    g = torch.Generator().manual_seed(0)
    h = train(model, lambda _: reverse_lm_batch(g, B=16, L=3), steps=40, layers_of="decoder")
    assert len(h.losses) == len(h.grad_norms) == 40 and not h.diverged
    assert len(h.layer_grad_norms) == 40 and all(len(n) == 3 for n in h.layer_grad_norms)
    assert all(n > 0 for n in h.layer_grad_norms[0])
    assert sum(h.losses[-5:]) < sum(h.losses[:5])


class Oracle(nn.Module):
    """Logits that put everything on the right target, except at position `wrong`."""

    def __init__(self, targets: torch.Tensor, wrong: int) -> None:
        super().__init__()
        self.targets, self.wrong = targets, wrong

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        target = self.targets.clone()
        target[:, self.wrong] = SEP  # never a target in these batches' first half
        return nn.functional.one_hot(target, 20).float() * 50.0


def test_teacher_forced_accuracy_counts_tokens_and_whole_sequences() -> None:
    b = reverse_lm_batch(torch.Generator().manual_seed(0), B=4, L=3)
    m = teacher_forced_accuracy(Oracle(b["targets"], wrong=0), b)
    assert m["token_accuracy"] == pytest.approx(6 / 7)
    assert m["sequence_accuracy"] == 0.0
    assert m["loss"] == pytest.approx(50.0 / 7, rel=1e-3)


def test_statistics_and_formatting() -> None:
    assert mean_std([1.0, 3.0]) == pytest.approx((2.0, 2**0.5))
    assert mean_std([4.0]) == (4.0, 0.0)
    assert fmt(0.5, 0.0) == "0.500" and fmt(0.5, 0.01) == "0.500 ± 0.010"
    assert smooth([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    table = markdown_table([{"a|b": 1.23456, "c": "x|y"}])
    assert table.splitlines()[0] == "| a\\|b | c |" and "| 1.235 | x\\|y |" in table


def test_the_report_names_the_command_the_commit_and_the_machine(tmp_path) -> None:
    report = Report("demo", "A title", "A question?", tables={"T": [{"x": 1}]})
    report.findings.append("it worked")
    files = write_report(
        report, tmp_path, command="aiayn ablate demo", settings=Settings(), seconds=1.5
    )
    assert [f.name for f in files] == ["results.json", "results.md"]
    record = json.loads(files[0].read_text(encoding="utf-8"))
    assert record["command"] == "aiayn ablate demo" and record["tables"] == {"T": [{"x": 1}]}
    assert record["commit"] and "cores" in record["machine"]
    md = files[1].read_text(encoding="utf-8")
    assert "`aiayn ablate demo`" in md and "- it worked" in md and "| x |" in md


def test_unknown_ablations_and_bad_seed_counts_are_refused(tmp_path) -> None:
    assert "no-residual" in NAMES and len(NAMES) == 7
    with pytest.raises(AiaynError, match="'no-attention'.*rnn-vs-transformer"):
        run_ablation("no-attention", out=tmp_path)
    with pytest.raises(AiaynError, match="--seeds.*0"):
        run_ablation("no-residual", seeds=0, out=tmp_path)
