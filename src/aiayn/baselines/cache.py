"""What the recurrent decoder carries from one decoding step to the next.

Notation: B batch, S source length, L layers, D d_model.

The Transformer's decoder cache (aiayn.nn.kv_cache) grows by one key and one value per layer at
every step, because each new token attends to all the tokens before it. A recurrent decoder keeps
a fixed-size summary instead: the LSTM state (h, c) of every layer is all it remembers of the
target prefix, whatever its length, and the next step reads nothing else of the past. Memory per
step is O(1) rather than O(T); the price is that everything about the prefix must squeeze through
those L * 2 vectors of D numbers.
"""

from __future__ import annotations

from torch import Tensor


class RecurrentDecoderCache:
    """The decoder's state between calls of `LSTMEncoderDecoder.decode`.

    state: (h, c), each (L, B, D), the LSTM state after the last decoded position.
    feed: (B, D), the last attentional vector, fed with the next input (Luong's input feeding).
    keys: (B, S, D), the attention's source-only part of the scores, computed on the first step.
    steps: the number of target positions decoded so far.
    All are None (and steps 0) until the first step.
    """

    def __init__(self) -> None:
        self.state: tuple[Tensor, Tensor] | None = None
        self.feed: Tensor | None = None
        self.keys: Tensor | None = None
        self.steps = 0

    def __len__(self) -> int:
        """Number of positions already decoded (the position of the next token)."""
        return self.steps

    def update(
        self, *, state: tuple[Tensor, Tensor], feed: Tensor, keys: Tensor, steps: int
    ) -> None:
        """Store the state after `steps` more positions."""
        self.state, self.feed, self.keys = state, feed, keys
        self.steps += steps

    def reorder(self, index: Tensor) -> None:
        """Keep batch rows `index` (beam search: follow each surviving hypothesis's parent, and
        drop the sentences that are done)."""
        if self.state is not None:
            h, c = self.state
            self.state = (h.index_select(1, index), c.index_select(1, index))  # batch is dim 1
        if self.feed is not None:
            self.feed = self.feed.index_select(0, index)
        if self.keys is not None:
            self.keys = self.keys.index_select(0, index)

    def select_memory(self, index: Tensor) -> None:
        """Nothing to do: the keys are kept per decoder row, and `reorder` follows those."""
