"""Language-model training examples: a token stream cut into blocks of (input, next token).

Notation: N tokens in the stream, L = block_size, n = number of blocks.
"""

from __future__ import annotations

from torch import Tensor


def lm_blocks(ids: Tensor, block_size: int) -> tuple[Tensor, Tensor]:
    """Cut a token stream (N,) into consecutive, non-overlapping blocks: (inputs, targets), (n, L).

    Block i reads ids[i*L : (i+1)*L] and must predict ids[i*L+1 : (i+1)*L+1], the same tokens
    shifted by one; so no stream position is an input of two blocks, and an epoch over the blocks
    sees each token once. The tail that cannot fill a block (plus its next token) is dropped:
    n = (N - 1) // L. For a contiguous `ids` both are views (no copy).
    """
    if ids.dim() != 1:
        raise ValueError(f"ids must be a 1-D tensor of token ids, got shape {tuple(ids.shape)}")
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size <= 0:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}")
    n = (ids.numel() - 1) // block_size
    if n == 0:
        raise ValueError(
            f"a stream of {ids.numel()} tokens is too short for one block of {block_size} "
            f"(needs at least {block_size + 1})"
        )
    inputs = ids[: n * block_size].reshape(n, block_size)  # (N,) -> (n, L)
    targets = ids[1 : n * block_size + 1].reshape(n, block_size)  # (N,) -> (n, L), shifted by one
    return inputs, targets


__all__ = ["lm_blocks"]
