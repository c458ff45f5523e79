"""How different the heads and the layers of a model are.

Three measures, each in [0, 1] or [-1, 1], each 1 for identical things:
- `linear_cka`: centred kernel alignment (Kornblith et al. 2019) of two sets of features of the same
  N examples, (N, D1) and (N, D2). Invariant to rotations and to scale, so two layers that compute
  the same thing in different coordinates still score 1; unrelated features score near 0.
- `head_query_key_similarity`: the cosine between the heads' bilinear forms W_i^Q (W_i^K)^T
  (d_model x d_model), the part of a head that decides where it looks. Invariant to the rotations
  inside a head that leave its attention unchanged (W_i^Q R, W_i^K R).
- `attention_map_similarity`: the cosine between the heads' attention maps on the same inputs.

Notation: N examples, D features, H heads, B batch, T queries, S keys, L layers.
"""

from __future__ import annotations

import torch
from torch import Tensor


def linear_cka(x: Tensor, y: Tensor) -> float:
    """Linear CKA of x (N, D1) and y (N, D2): ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) after
    centring each feature. 1 when y is a rotation and rescaling of x."""
    if x.dim() != 2 or y.dim() != 2 or x.size(0) != y.size(0):
        raise ValueError(
            f"linear_cka needs (N, D1) and (N, D2) with the same N, got {tuple(x.shape)} and "
            f"{tuple(y.shape)}"
        )
    x = x.double() - x.double().mean(0, keepdim=True)
    y = y.double() - y.double().mean(0, keepdim=True)
    cross = (y.T @ x).square().sum()  # ||Y^T X||_F^2
    norm = torch.linalg.matrix_norm(x.T @ x) * torch.linalg.matrix_norm(y.T @ y)
    return float(cross / norm) if norm > 0 else 0.0


def cka_matrix(features: list[Tensor]) -> Tensor:
    """(L, L) linear CKA between every pair of L feature sets, each (N, D_l) or (B, T, D_l)
    (flattened to (B*T, D_l))."""
    flat = [f.reshape(-1, f.size(-1)) for f in features]
    L = len(flat)
    out = torch.ones(L, L, dtype=torch.float64)
    for i in range(L):
        for j in range(i + 1, L):
            out[i, j] = out[j, i] = linear_cka(flat[i], flat[j])
    return out


def cosine_matrix(rows: Tensor) -> Tensor:
    """(K, K) cosine similarity between the K rows of (K, M)."""
    unit = rows.double() / rows.double().norm(dim=-1, keepdim=True).clamp(min=1e-12)
    return unit @ unit.T


def head_query_key_similarity(w_q: Tensor, w_k: Tensor, n_heads: int) -> Tensor:
    """(H, H) cosine between the heads' W_i^Q (W_i^K)^T, from the (D, D) weights of nn.Linear
    layers w_q and w_k (rows i*Dh .. (i+1)*Dh - 1 are head i's)."""
    D = w_q.size(1)
    if w_q.shape != w_k.shape or w_q.size(0) % n_heads != 0:
        raise ValueError(
            f"w_q {tuple(w_q.shape)} and w_k {tuple(w_k.shape)} must have the same shape, with "
            f"rows divisible by n_heads={n_heads}"
        )
    q = w_q.detach().reshape(n_heads, -1, D)  # (D, D) -> (H, Dh, D)
    k = w_k.detach().reshape(n_heads, -1, D)
    forms = q.transpose(1, 2) @ k  # (H, D, Dh) @ (H, Dh, D) -> (H, D, D): x^T W_q_i^T W_k_i y
    return cosine_matrix(forms.reshape(n_heads, -1))


def attention_map_similarity(weights: Tensor) -> Tensor:
    """(H, H) cosine between the heads' attention maps, from weights (B, H, T, S)."""
    if weights.dim() != 4:
        raise ValueError(f"weights must be (B, H, T, S), got {tuple(weights.shape)}")
    H = weights.size(1)
    return cosine_matrix(weights.detach().transpose(0, 1).reshape(H, -1))


def mean_off_diagonal(matrix: Tensor) -> float:
    """The mean of a square matrix's entries off its diagonal (how alike distinct items are)."""
    K = matrix.size(0)
    if K < 2:
        return float("nan")
    off = matrix.sum() - matrix.diagonal().sum()
    return float(off / (K * (K - 1)))


__all__ = [
    "attention_map_similarity",
    "cka_matrix",
    "cosine_matrix",
    "head_query_key_similarity",
    "linear_cka",
    "mean_off_diagonal",
]
