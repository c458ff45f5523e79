"""Similarity of heads and layers: CKA's invariances, the heads' bilinear forms, attention maps."""

from __future__ import annotations

import pytest
import torch
from torch.testing import assert_close

from aiayn.evaluation.similarity import (
    attention_map_similarity,
    cka_matrix,
    cosine_matrix,
    head_query_key_similarity,
    linear_cka,
    mean_off_diagonal,
)


def test_cka_is_one_under_rotation_and_scale_and_small_for_unrelated_features() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(500, 8, generator=g)
    rotation, _ = torch.linalg.qr(torch.randn(8, 8, generator=g))
    assert linear_cka(x, 3.0 * x @ rotation + 1.0) == pytest.approx(1.0, abs=1e-9)
    assert linear_cka(x, torch.randn(500, 8, generator=g)) < 0.1


def test_cka_equals_the_formula_for_one_feature_each() -> None:
    """With one feature each, linear CKA is the squared correlation."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(200, 1, generator=g)
    y = x + torch.randn(200, 1, generator=g)
    r = torch.corrcoef(torch.cat([x, y], 1).T)[0, 1].item()
    assert linear_cka(x, y) == pytest.approx(r**2, rel=1e-6)


def test_cka_refuses_different_example_counts() -> None:
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        linear_cka(torch.randn(3, 2), torch.randn(4, 2))


def test_cka_matrix_is_symmetric_with_a_unit_diagonal() -> None:
    g = torch.Generator().manual_seed(2)
    a = torch.randn(4, 5, 6, generator=g)
    m = cka_matrix([a, 2 * a, torch.randn(4, 5, 3, generator=g)])
    assert m.shape == (3, 3)
    assert_close(m, m.T)
    assert_close(m.diagonal(), torch.ones(3, dtype=torch.float64))
    assert m[0, 1].item() == pytest.approx(1.0) and m[0, 2].item() < 0.9


def test_identical_heads_score_one_and_rotations_inside_a_head_do_not_matter() -> None:
    g = torch.Generator().manual_seed(3)
    D, H = 8, 2
    head_q, head_k = torch.randn(4, D, generator=g), torch.randn(4, D, generator=g)
    rotation, _ = torch.linalg.qr(torch.randn(4, 4, generator=g))
    w_q = torch.cat([head_q, rotation.T @ head_q])  # head 2 = head 1 rotated: same attention
    w_k = torch.cat([head_k, rotation.T @ head_k])
    assert head_query_key_similarity(w_q, w_k, H)[0, 1].item() == pytest.approx(1.0)
    other = torch.cat([head_q, torch.randn(4, D, generator=g)])
    assert abs(head_query_key_similarity(other, w_k, H)[0, 1].item()) < 0.9


def test_attention_map_similarity_and_the_off_diagonal_mean() -> None:
    w = torch.softmax(torch.randn(2, 3, 4, 5), -1)
    w[:, 1] = w[:, 0]
    m = attention_map_similarity(w)
    assert m.shape == (3, 3) and m[0, 1].item() == pytest.approx(1.0)
    assert mean_off_diagonal(torch.eye(3, dtype=torch.float64)) == 0.0
    assert mean_off_diagonal(torch.ones(3, 3)) == pytest.approx(1.0)
    assert_close(cosine_matrix(torch.eye(2)), torch.eye(2, dtype=torch.float64))
    with pytest.raises(ValueError, match="B, H, T, S"):
        attention_map_similarity(torch.ones(3, 4))
