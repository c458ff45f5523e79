import math

import pytest
import torch
import torch.nn.functional as F

from aiayn import build_model, model_preset
from aiayn.training.loss import compute_loss, label_smoothed_cross_entropy


def test_zero_smoothing_equals_plain_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(20, 7, generator=g)
    target = torch.randint(0, 7, (20,), generator=g)
    loss, n = label_smoothed_cross_entropy(logits, target, epsilon=0.0)
    torch.testing.assert_close(loss, F.cross_entropy(logits, target, reduction="sum"))
    assert n.item() == 20


def test_smoothing_matches_the_written_out_formula():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(12, 5, generator=g)
    target = torch.randint(0, 5, (12,), generator=g)
    eps = 0.1
    logp = logits.log_softmax(-1)
    # Target distribution (1 - eps) * one_hot + eps / V, cross-entropy against it.
    q = torch.full_like(logp, eps / 5)
    q[torch.arange(12), target] += 1 - eps
    expected = -(q * logp).sum()
    loss, _ = label_smoothed_cross_entropy(logits, target, epsilon=eps)
    torch.testing.assert_close(loss, expected)


def test_padding_is_ignored_and_all_padding_is_finite():
    logits = torch.randn(6, 4)
    target = torch.tensor([1, 2, 0, 0, 3, 0])
    loss, n = label_smoothed_cross_entropy(logits, target, epsilon=0.1, ignore_index=0)
    keep = target != 0
    ref, _ = label_smoothed_cross_entropy(logits[keep], target[keep], epsilon=0.1)
    torch.testing.assert_close(loss, ref)
    assert n.item() == 3
    loss, n = label_smoothed_cross_entropy(logits, torch.zeros(6, dtype=torch.long), ignore_index=0)
    assert math.isfinite(loss.item()) and n.item() == 0


def test_bad_epsilon():
    with pytest.raises(ValueError, match="epsilon"):
        label_smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), epsilon=1.5)


def test_compute_loss_for_each_model_kind():
    torch.manual_seed(0)
    b = {
        "src": torch.randint(1, 20, (2, 5)),
        "tgt_in": torch.randint(1, 20, (2, 4)),
        "tgt_out": torch.randint(1, 20, (2, 4)),
    }
    out = compute_loss(build_model(model_preset("tiny", vocab_size=20)), b)
    assert out.n_targets.item() == 8 and out.loss_sum.requires_grad
    b = {"inputs": torch.randint(1, 20, (2, 5)), "targets": torch.randint(1, 20, (2, 5))}
    out = compute_loss(build_model(model_preset("lm-tiny", vocab_size=20)), b, label_smoothing=0.1)
    assert out.n_targets.item() == 10 and out.nll_sum.item() < out.loss_sum.item() + 10
    b = {"tokens": torch.randint(1, 20, (3, 5)), "labels": torch.tensor([0, 1, 1])}
    out = compute_loss(build_model(model_preset("cls-small", vocab_size=20)), b)
    assert out.n_targets.item() == 3


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_compute_loss_counts_correct_tokens_as_argmax_does(dtype):
    torch.manual_seed(3)
    model = build_model(model_preset("lm-tiny", vocab_size=30)).to(dtype)
    batch = {"inputs": torch.randint(1, 30, (3, 9)), "targets": torch.randint(1, 30, (3, 9))}
    batch["targets"][0, 4:] = 0  # padding is never counted
    out = compute_loss(model, batch)
    logits = model(batch["inputs"]).reshape(-1, 30)
    target = batch["targets"].reshape(-1)
    expected = ((logits.argmax(-1) == target) & (target != 0)).sum()
    assert out.n_correct.item() == expected.item()
    assert out.n_targets.item() == 3 * 9 - 5
