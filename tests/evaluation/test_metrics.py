import math

import pytest
import torch

from aiayn.evaluation import (
    accuracy_f1,
    per_position_accuracy,
    perplexity,
    sequence_exact_match,
)


def test_perplexity_hand_values():
    assert perplexity(0.0, 5) == pytest.approx(1.0)
    assert perplexity(10 * math.log(4.0), 10) == pytest.approx(4.0)
    assert perplexity(6.0, 3) == pytest.approx(math.exp(2.0))


def test_perplexity_overflow_is_inf_not_an_error():
    assert perplexity(1e6, 1) == math.inf
    assert math.isfinite(perplexity(700.0, 1))


@pytest.mark.parametrize("n_tokens", [0, -3])
def test_perplexity_needs_tokens(n_tokens):
    with pytest.raises(ValueError, match="n_tokens"):
        perplexity(1.0, n_tokens)


@pytest.mark.parametrize("total", [-1.0, float("nan")])
def test_perplexity_rejects_bad_nll(total):
    with pytest.raises(ValueError, match="total_nll"):
        perplexity(total, 3)


def test_accuracy_f1_hand_values():
    pred = [1, 1, 0, 0, 1, 0]
    true = [1, 0, 0, 1, 1, 0]
    # tp = 2, fp = 1, fn = 1, tn = 2
    m = accuracy_f1(pred, true)
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(2 / 3)
    assert m["f1"] == pytest.approx(2 / 3)


def test_accuracy_f1_other_positive_class_and_tensors():
    pred = torch.tensor([1, 1, 0, 0, 1, 0])
    true = torch.tensor([1, 0, 0, 1, 1, 1])
    m = accuracy_f1(pred, true, positive=0)
    # positive = 0: tp = 1 (idx 2), fp = 2 (idx 3, 5), fn = 1 (idx 1)
    assert m["precision"] == pytest.approx(1 / 3)
    assert m["recall"] == pytest.approx(1 / 2)
    assert m["f1"] == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    assert m["accuracy"] == pytest.approx(3 / 6)


def test_accuracy_f1_without_positives_is_zero_not_an_error():
    m = accuracy_f1([0, 0, 0], [0, 0, 0])
    assert m == {"accuracy": 1.0, "f1": 0.0, "precision": 0.0, "recall": 0.0}


def test_accuracy_f1_bad_input():
    with pytest.raises(ValueError, match="same length"):
        accuracy_f1([1, 0], [1, 0, 1])
    with pytest.raises(ValueError, match="empty"):
        accuracy_f1([], [])


def test_sequence_exact_match():
    hyps = [[1, 2, 3], [4, 5], [6], []]
    refs = [[1, 2, 3], [4, 5, 6], [7], []]
    assert sequence_exact_match(hyps, refs) == pytest.approx(0.5)
    with pytest.raises(ValueError, match=r"len\(hyps\)=1.*len\(refs\)=2"):
        sequence_exact_match([[1]], [[1], [2]])
    with pytest.raises(ValueError, match="empty"):
        sequence_exact_match([], [])


def test_per_position_accuracy_without_mask():
    pred = torch.tensor([[1, 2, 3], [1, 0, 3], [0, 0, 3], [1, 2, 0]])
    target = torch.tensor([[1, 2, 3], [1, 2, 3], [1, 2, 3], [1, 2, 3]])
    acc = per_position_accuracy(pred, target)
    torch.testing.assert_close(acc, torch.tensor([0.75, 0.5, 0.75]))


def test_per_position_accuracy_with_mask():
    pred = torch.tensor([[1, 2, 3], [1, 0, 9], [0, 2, 9]])
    target = torch.tensor([[1, 2, 3], [1, 2, 3], [1, 2, 3]])
    mask = torch.tensor([[True, True, False], [True, True, False], [False, True, False]])
    acc = per_position_accuracy(pred, target, mask)
    assert acc.shape == (3,)
    assert acc[0].item() == pytest.approx(1.0)  # the wrong 0 at row 2 is masked out
    assert acc[1].item() == pytest.approx(2 / 3)
    assert math.isnan(acc[2].item())  # nothing counted at position 2


def test_per_position_accuracy_shape_errors():
    with pytest.raises(ValueError, match="pred"):
        per_position_accuracy(torch.zeros(2, 3), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="mask"):
        per_position_accuracy(torch.zeros(2, 3), torch.zeros(2, 3), torch.ones(3, 2))
