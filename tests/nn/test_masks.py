"""Mask helpers: one convention, True = may attend."""

from __future__ import annotations

import pytest
import torch

from aiayn.nn import causal_mask, padding_mask


def test_padding_mask_shape_and_values() -> None:
    tokens = torch.tensor([[5, 6, 0, 0], [7, 0, 0, 0]])
    mask = padding_mask(tokens, pad_id=0)
    assert mask.shape == (2, 1, 1, 4) and mask.dtype == torch.bool
    assert mask[:, 0, 0].tolist() == [[True, True, False, False], [True, False, False, False]]


def test_padding_mask_uses_the_given_pad_id() -> None:
    tokens = torch.tensor([[0, 3, 1, 1]])
    assert padding_mask(tokens, pad_id=1)[0, 0, 0].tolist() == [True, True, False, False]


@pytest.mark.parametrize(("t_q", "t_k"), [(1, 1), (4, 4), (3, 7), (1, 5)])
def test_causal_mask_entry_by_entry(t_q: int, t_k: int) -> None:
    mask = causal_mask(t_q, t_k)
    assert mask.shape == (t_q, t_k)
    offset = t_k - t_q  # query i sits at absolute position offset + i
    for i in range(t_q):
        for j in range(t_k):
            assert mask[i, j].item() == (j <= offset + i), (i, j)


def test_causal_mask_square_by_default_and_rejects_fewer_keys() -> None:
    assert torch.equal(causal_mask(3), causal_mask(3, 3))
    with pytest.raises(ValueError, match="t_q=4, t_k=2"):
        causal_mask(4, 2)
