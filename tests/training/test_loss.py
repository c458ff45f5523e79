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
    lm = build_model(model_preset("lm-tiny", vocab_size=20)).eval()  # no dropout: same logits
    out = compute_loss(lm, b, label_smoothing=0.1)
    assert out.n_targets.item() == 10
    # By hand: the NLL of the targets, and (1 - eps) NLL + eps (mean -log p over the 20 classes)
    log_p = lm(b["inputs"]).double().log_softmax(-1)  # (2, 5, 20)
    nll = -log_p.gather(-1, b["targets"].unsqueeze(-1)).sum().item()
    uniform = -log_p.mean(-1).sum().item()
    assert out.nll_sum.item() == pytest.approx(nll, rel=1e-5)
    assert out.loss_sum.item() == pytest.approx(0.9 * nll + 0.1 * uniform, rel=1e-5)
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


# --- label smoothing that leaves out the ids that are never targets ------------------------------
V = 7
EXCLUDE = (0, 2)  # e.g. <pad> and <bos>


def _logits_and_targets(seed: int = 4, n: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, V, generator=g)
    target = torch.tensor([1, 3, 4, 5, 6, 3, 1, 6, 0, 0][:n])  # two rows of padding (0)
    return logits, target


def test_smoothing_with_excluded_ids_matches_the_written_out_formula():
    logits, target = _logits_and_targets()
    eps = 0.1
    loss, n = label_smoothed_cross_entropy(
        logits, target, epsilon=eps, ignore_index=0, exclude=EXCLUDE
    )
    logp = logits.log_softmax(-1)
    kept = [c for c in range(V) if c not in EXCLUDE]  # the V - 2 classes that share eps
    expected = torch.tensor(0.0)
    for i in range(len(target)):
        if target[i] == 0:
            continue  # padding
        nll = -logp[i, target[i]]
        smooth = -logp[i, kept].sum() / (V - 2)
        expected = expected + (1 - eps) * nll + eps * smooth
    torch.testing.assert_close(loss, expected)
    assert n.item() == 8
    plain, _ = label_smoothed_cross_entropy(logits, target, epsilon=eps, ignore_index=0)
    assert not torch.allclose(loss, plain)  # the excluded ids do change the loss


def test_excluded_ids_get_no_push_beyond_what_nll_gives():
    """d loss / d logit_j for an excluded j is p_j, exactly NLL's: no smoothing mass is taught to
    go there. Smoothing over all V classes lowers that push by eps / V."""
    logits, target = _logits_and_targets()
    eps = 0.1

    def grad(**kwargs) -> torch.Tensor:
        z = logits.clone().requires_grad_(True)
        loss, _ = label_smoothed_cross_entropy(z, target, ignore_index=0, **kwargs)
        loss.backward()
        return z.grad

    nll = grad(epsilon=0.0)
    excluding = grad(epsilon=eps, exclude=EXCLUDE)
    everywhere = grad(epsilon=eps)
    real = target != 0
    cols = list(EXCLUDE)
    torch.testing.assert_close(excluding[real][:, cols], nll[real][:, cols])
    torch.testing.assert_close(everywhere[real][:, cols], nll[real][:, cols] - eps / V)
    assert (excluding[~real] == 0).all()  # padding rows give no gradient at all
    # the mass eps goes to the V - 2 others instead, the target's share included
    onehot = F.one_hot(target, V).float()
    share = torch.zeros(V)
    share[[c for c in range(V) if c not in EXCLUDE]] = eps / (V - 2)
    expected = nll + eps * onehot - share
    torch.testing.assert_close(excluding[real], expected[real])


def test_an_empty_exclude_is_torchs_fused_label_smoothing():
    logits, target = _logits_and_targets()
    loss, _ = label_smoothed_cross_entropy(logits, target, epsilon=0.2, ignore_index=0, exclude=())
    expected = F.cross_entropy(logits, target, ignore_index=0, label_smoothing=0.2, reduction="sum")
    torch.testing.assert_close(loss, expected)


def test_exclude_without_smoothing_is_plain_nll():
    logits, target = _logits_and_targets()
    loss, _ = label_smoothed_cross_entropy(logits, target, ignore_index=0, exclude=EXCLUDE)
    expected = F.cross_entropy(logits, target, ignore_index=0, reduction="sum")
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize("exclude", [(-1,), (V,), (0, 9)])
def test_excluded_ids_must_be_in_the_vocabulary(exclude):
    logits, target = _logits_and_targets()
    with pytest.raises(ValueError, match=r"smoothing exclude ids must be in \[0, 7\)"):
        label_smoothed_cross_entropy(logits, target, epsilon=0.1, exclude=exclude)


def test_compute_loss_passes_the_excluded_ids_on():
    torch.manual_seed(5)
    model = build_model(model_preset("lm-tiny", vocab_size=V, tie_output=False))
    batch = {"inputs": torch.randint(1, V, (2, 6)), "targets": torch.randint(3, V, (2, 6))}
    out = compute_loss(model, batch, label_smoothing=0.1, smoothing_exclude=EXCLUDE)
    logits = model(batch["inputs"]).reshape(-1, V)
    expected, _ = label_smoothed_cross_entropy(
        logits, batch["targets"].reshape(-1), epsilon=0.1, ignore_index=0, exclude=EXCLUDE
    )
    torch.testing.assert_close(out.loss_sum, expected)
    nll = F.cross_entropy(logits, batch["targets"].reshape(-1), reduction="sum")
    torch.testing.assert_close(out.nll_sum, nll.detach())  # perplexity stays un-smoothed


def test_the_trainers_default_loss_excludes_smoothing_exclude(make_trainer):
    """`Trainer(smoothing_exclude=...)` reaches the loss, unless smooth_over_specials says to
    spread the mass over the whole vocabulary."""
    excluding = make_trainer("excl", label_smoothing=0.1, smoothing_exclude=(0, 1))
    everywhere = make_trainer(
        "all", label_smoothing=0.1, smoothing_exclude=(0, 1), smooth_over_specials=True
    )
    model = excluding.module.eval()
    batch = next(iter(excluding.train_data.epoch_batches(0)))
    with torch.no_grad():
        got = excluding.loss_fn(model, batch).loss_sum
        wanted = compute_loss(model, batch, label_smoothing=0.1, smoothing_exclude=(0, 1))
        spread = compute_loss(model, batch, label_smoothing=0.1)
        assert torch.equal(got, wanted.loss_sum) and not torch.allclose(got, spread.loss_sum)
        assert torch.equal(everywhere.loss_fn(model, batch).loss_sum, spread.loss_sum)
