"""A recurrent baseline: an LSTM encoder-decoder with global attention (Luong et al. 2015, with
Bahdanau et al. 2015's additive score as an option).

It answers "what does the Transformer do differently from an RNN?" by experiment: it has the same
interface as aiayn.models.EncoderDecoder (`encode`, `decode`, `new_cache`, `forward`), so the same
trainer, tasks, loss and decoders run it.

Notation: B batch, S source length, T target length, L layers (n_layers), D d_model,
V target vocabulary size.

How time is handled, in one paragraph. The Transformer has no recurrence: in each layer every
position is computed from all the others at once, by attention, and the order of the words
enters only through the positional encodings; in training all T target positions are computed
together. Here the order of the words *is* the computation. The encoder reads the source one
token at a time, left to right and (in its second direction) right to left, each step's state a
function of the step before, so it needs S steps one after the other; there are no positional
encodings, since a token's position is where its state sits in that chain. The decoder is a loop
over the target positions, even in training with teacher forcing: with input feeding, step t's
input holds the output of step t - 1. Everything the decoder knows of the target prefix is its
fixed-size state (h, c); what it knows of the source it reads by attention, once per step.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from aiayn.baselines.attention import GlobalAttention
from aiayn.baselines.cache import RecurrentDecoderCache
from aiayn.config import ModelConfig
from aiayn.nn.dropout import Dropout
from aiayn.nn.embeddings import TokenEmbedding
from aiayn.nn.masks import padding_mask

ARCH = "lstm-encoder-decoder"

State = tuple[Tensor, Tensor]  # (h, c), each (L, B, D)


class BidirectionalLSTMEncoder(nn.Module):
    """(B, S, D) embedded source and (B,) lengths -> (B, S, D) annotations.

    Two LSTMs of D/2 units each read the sentence, one forwards and one backwards; the annotation
    of token s is [h_fwd_s ; h_bwd_s] (Bahdanau et al. 2015, section 3.2), D numbers that describe
    the token in the context of the words before it and after it. With L layers, each layer reads
    the annotations of the one below.
    """

    def __init__(self, *, d_model: int, n_layers: int, p_drop: float, bias: bool = True) -> None:
        super().__init__()
        if d_model % 2 != 0:
            raise ValueError(
                f"d_model must be even (each direction of the encoder has d_model / 2 units), "
                f"got {d_model}"
            )
        self.lstm = nn.LSTM(
            d_model,
            d_model // 2,
            num_layers=n_layers,
            bias=bias,
            batch_first=True,
            dropout=p_drop if n_layers > 1 else 0.0,  # between layers (not after the top one)
            bidirectional=True,
        )

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        # nn.LSTM runs the time loop itself, in C++ or cuDNN: for s = 1 .. S, the forward LSTM
        # computes (h_s, c_s) from x_s and (h_{s-1}, c_{s-1}); the backward one goes from s = S
        # down to 1. The S steps must run one after the other, however many cores there are.
        # Packing tells it each sentence's length, so a sentence of length n stops after n
        # steps and the backward LSTM starts at its last real token: right padding never enters
        # a real token's state. (Masking the padding instead would still let the backward
        # direction read it first.)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.size(1))
        return out  # (B, S, D), zeros at the padded positions


class AttentionalLSTMDecoder(nn.Module):
    """The decoder's recurrence with global attention and input feeding (Luong et al. 2015,
    sections 3 and 3.3). One step t, for all the sentences of a batch at once:

        x_t          = [E y_t ; h~_{t-1}]              input feeding: the last attentional vector
                                                       joins the embedded input token
        (h_t, c_t)   = LSTM(x_t, (h_{t-1}, c_{t-1}))   L stacked layers; h_t is the top one's
        ctx_t, a_t   = attention(h_t, annotations)     which source tokens matter now
        h~_t         = tanh(W_c [ctx_t ; h_t])         the attentional vector (dropout follows)
        logits_t     = W_out h~_t                      (the model's generator)

    where one LSTM layer is, with sigma the logistic function and * the elementwise product,

        i, f, o = sigma(W_{i,f,o} x_t + U_{i,f,o} h_{t-1} + b_{i,f,o})    input, forget, output
        g       = tanh(W_g x_t + U_g h_{t-1} + b_g)                          candidate
        c_t     = f * c_{t-1} + i * g,       h_t = o * tanh(c_t).
    """

    def __init__(
        self, *, d_model: int, n_layers: int, p_drop: float, score: str, bias: bool = True
    ) -> None:
        super().__init__()
        self.lstm = nn.LSTM(
            2 * d_model,  # [E y_t ; h~_{t-1}]
            d_model,
            num_layers=n_layers,
            bias=bias,
            batch_first=True,
            dropout=p_drop if n_layers > 1 else 0.0,
        )
        self.attention = GlobalAttention(d_model=d_model, score=score, bias=bias)
        self.W_c = nn.Linear(2 * d_model, d_model, bias=bias)
        self.dropout = Dropout(p_drop)

    def forward(
        self, x: Tensor, memory: Tensor, keys: Tensor, mask: Tensor, *, state: State, feed: Tensor
    ) -> tuple[Tensor, State, Tensor, Tensor]:
        """Run T steps from (state, feed).

        x: (B, T, D) embedded target inputs; memory and keys: (B, S, D); mask: (B, S), True =
        real source token; state: (h, c), each (L, B, D); feed: (B, D), h~ of the step before.
        Returns (h~ of every step (B, T, D), the final state, the final feed (B, D), attention
        weights (B, T, S)).
        """
        outputs: list[Tensor] = []
        weights: list[Tensor] = []
        # The time loop. Unlike the Transformer's decoder, which in training computes all T
        # positions in one pass (the causal mask keeps each from seeing the later ones), this
        # must go one position at a time even when the whole target is known: step t needs
        # step t - 1's state and attentional vector. T sequential steps, each a small matrix
        # product, is what makes recurrent networks slow on parallel hardware. Decoding with a
        # cache runs the same loop one token per call.
        for t in range(x.size(1)):
            step_input = torch.cat([x[:, t], feed], dim=-1)[:, None, :]  # (B, 2D) -> (B, 1, 2D)
            top, state = self.lstm(step_input, state)  # top: (B, 1, D), the top layer's h_t
            h = top[:, 0]  # (B, 1, D) -> (B, D)
            context, a = self.attention(h, keys, memory, mask)  # (B, D), (B, S)
            feed = self.dropout(torch.tanh(self.W_c(torch.cat([context, h], dim=-1))))  # (B, D)
            outputs.append(feed)
            weights.append(a)
        # T x (B, D) -> (B, T, D); T x (B, S) -> (B, T, S)
        return torch.stack(outputs, dim=1), state, feed, torch.stack(weights, dim=1)


class LSTMEncoderDecoder(nn.Module):
    """Source ids -> annotations; annotations + target ids so far -> next-token logits.

    Shares the interface of aiayn.models.EncoderDecoder, and these ModelConfig fields: vocab_size,
    tgt_vocab_size, d_model (the hidden size), n_layers (encoder and decoder), p_drop (on the
    embeddings, between LSTM layers, on the attentional vectors), share_embeddings, tie_output,
    bias, pad_id, max_len (only as the decoders' length cap) and rnn_attention (the score). The
    Transformer's own fields (n_heads, d_ff, positional, norm_first, scale_embeddings, ...) do
    not apply. In particular the embeddings are not multiplied by sqrt(d_model): that factor
    balances them against the positional encodings, which an RNN does not have, and inputs that
    large saturate the LSTM's gates (on a copy task it trains several times slower).

    The decoder starts from the encoder's final states through a projection (the "bridge"):
    [forward LSTM's last state ; backward LSTM's last state], both of the top layer, ->
    (h_0, c_0) of every decoder layer. They are read off the annotations (the forward direction
    ends at the last real token, the backward one at the first), so `decode` needs nothing but
    the memory and the mask, as the decoders expect.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if config.arch != ARCH:
            raise ValueError(f"LSTMEncoderDecoder needs arch={ARCH!r}, got {config.arch!r}")
        if config.share_embeddings and config.target_vocab_size != config.vocab_size:
            raise ValueError(
                "share_embeddings needs one vocabulary, but tgt_vocab_size="
                f"{config.tgt_vocab_size} differs from vocab_size={config.vocab_size}"
            )
        c = self.config = config
        D, L = c.d_model, c.n_layers
        if c.n_decoder_layers not in (None, L):
            raise ValueError(
                f"n_decoder_layers must be None (the same as n_layers={L}), got "
                f"{c.n_decoder_layers}: the bridge gives every decoder layer an encoder state"
            )
        self.src_embed = TokenEmbedding(vocab_size=c.vocab_size, d_model=D, scale=False)
        self.tgt_embed = (
            self.src_embed
            if c.share_embeddings
            else TokenEmbedding(vocab_size=c.target_vocab_size, d_model=D, scale=False)
        )
        self.dropout = Dropout(c.p_drop)
        self.encoder = BidirectionalLSTMEncoder(d_model=D, n_layers=L, p_drop=c.p_drop, bias=c.bias)
        self.bridge = nn.Linear(D, 2 * L * D, bias=c.bias)  # -> h_0 and c_0 of the L layers
        self.decoder = AttentionalLSTMDecoder(
            d_model=D, n_layers=L, p_drop=c.p_drop, score=c.rnn_attention, bias=c.bias
        )
        self.generator = nn.Linear(D, c.target_vocab_size, bias=False)
        for lstm in (self.encoder.lstm, self.decoder.lstm):
            init_forget_gate_bias(lstm)
        if c.tie_output:
            self.generator.weight = self.tgt_embed.weight

    def encode(self, src: Tensor) -> tuple[Tensor, Tensor]:
        """(B, S) right-padded source ids -> (memory (B, S, D), source mask (B, 1, 1, S)).

        A source with no real token is read as one padding token; attention then sees nothing.
        """
        src_mask = padding_mask(src, self.config.pad_id)  # (B, 1, 1, S)
        lengths = source_lengths(src_mask[:, 0, 0])  # (B,)
        memory = self.encoder(self.dropout(self.src_embed(src)), lengths.clamp(min=1))
        return memory, src_mask

    def decode(
        self,
        tgt: Tensor,
        memory: Tensor,
        src_mask: Tensor,
        *,
        cache: RecurrentDecoderCache | None = None,
    ) -> Tensor:
        """(B, T) target ids (shifted right, starting with BOS) -> (B, T, V) logits.

        With a `cache`, `tgt` holds only the new positions and decoding resumes from the cached
        state. `memory` may hold one row per group of G consecutive target rows (the beams of one
        source); each row then gets its own copy. Target padding needs no mask: targets are
        right-padded and the recurrence only looks back, so padding never reaches a real
        position's output.
        """
        if memory.size(0) < tgt.size(0):  # beams sharing their source's memory: one copy each
            G = tgt.size(0) // memory.size(0)
            memory, src_mask = memory.repeat_interleave(G, 0), src_mask.repeat_interleave(G, 0)
        mask = src_mask[:, 0, 0]  # (B, 1, 1, S) -> (B, S)
        if cache is None or cache.state is None:
            state = self.initial_state(memory, mask)
            feed = memory.new_zeros(memory.size(0), self.config.d_model)  # no h~_0 yet
            keys = self.decoder.attention.keys(memory)
        else:
            state, feed, keys = cache.state, cache.feed, cache.keys
        x = self.dropout(self.tgt_embed(tgt))  # (B, T, D)
        out, state, feed, _ = self.decoder(x, memory, keys, mask, state=state, feed=feed)
        if cache is not None:
            cache.update(state=state, feed=feed, keys=keys, steps=tgt.size(1))
        return self.generator(out)  # (B, T, D) -> (B, T, V)

    def forward(self, src: Tensor, tgt: Tensor) -> Tensor:
        """(B, S) source ids, (B, T) target input ids -> (B, T, V) logits (teacher forcing)."""
        memory, src_mask = self.encode(src)
        return self.decode(tgt, memory, src_mask)

    def new_cache(self, capacity: int | None = None) -> RecurrentDecoderCache:
        """An empty recurrent state; `capacity` is accepted for the decoders' sake and unused
        (an LSTM's state has the same size whatever the length)."""
        return RecurrentDecoderCache()

    def initial_state(self, memory: Tensor, mask: Tensor) -> State:
        """(B, S, D) annotations, (B, S) mask -> the decoder's (h_0, c_0), each (L, B, D)."""
        B, D, L = memory.size(0), self.config.d_model, self.config.n_layers
        lengths = mask.sum(dim=-1).clamp(min=1)  # (B,)
        final = final_encoder_states(memory, lengths)  # (B, D)
        h0, c0 = self.bridge(final).view(B, 2, L, D).unbind(1)  # (B, 2LD) -> 2 x (B, L, D)
        # h = o * tanh(c) lies in (-1, 1), hence the tanh; the cell state c is unbounded.
        h0 = torch.tanh(h0).transpose(0, 1).contiguous()  # (B, L, D) -> (L, B, D)
        c0 = c0.transpose(0, 1).contiguous()
        return h0, c0

    @torch.no_grad()
    def alignments(self, src: Tensor, tgt: Tensor) -> Tensor:
        """(B, S) source ids, (B, T) target input ids -> (B, T, S) attention weights a_t: where
        each target step looked in the source (Bahdanau et al.'s Figure 3, Luong et al.'s 7)."""
        memory, src_mask = self.encode(src)
        mask = src_mask[:, 0, 0]  # (B, 1, 1, S) -> (B, S)
        feed = memory.new_zeros(memory.size(0), self.config.d_model)
        keys = self.decoder.attention.keys(memory)
        state = self.initial_state(memory, mask)
        *_, weights = self.decoder(self.tgt_embed(tgt), memory, keys, mask, state=state, feed=feed)
        return weights


def init_forget_gate_bias(lstm: nn.LSTM, value: float = 1.0) -> None:
    """Start every forget gate open, f = sigma(1) ~ 0.73, so that the cell state carries
    information across many steps from the first update on (Gers et al. 2000; Jozefowicz et al.
    2015). PyTorch adds two bias vectors, b_ih and b_hh, each laid out [input, forget, cell,
    output]: their forget parts are set to `value` and 0. Without biases it does nothing."""
    with torch.no_grad():
        for name, param in lstm.named_parameters():
            if name.startswith(("bias_ih", "bias_hh")):
                H = param.numel() // 4
                param[H : 2 * H].fill_(value if name.startswith("bias_ih") else 0.0)


def source_lengths(mask: Tensor) -> Tensor:
    """(B, S) mask of real tokens -> (B,) lengths, checking that the padding is on the right
    (a recurrent encoder reads tokens in order, so a pad in the middle would be read)."""
    lengths = mask.sum(dim=-1)  # (B,)
    positions = torch.arange(mask.size(-1), device=mask.device)
    if not torch.equal(mask, positions[None, :] < lengths[:, None]):
        raise ValueError(
            "the recurrent encoder needs right-padded sources (real tokens first, then pad_id); "
            "got padding before a real token"
        )
    return lengths


def final_encoder_states(memory: Tensor, lengths: Tensor) -> Tensor:
    """(B, S, D) annotations [h_fwd ; h_bwd], (B,) lengths >= 1 -> (B, D): the top layer's final
    states, [h_fwd at the last real token ; h_bwd at the first token]."""
    half = memory.size(-1) // 2
    rows = torch.arange(memory.size(0), device=memory.device)
    forward_last = memory[rows, lengths - 1, :half]  # (B, D/2)
    backward_last = memory[:, 0, half:]  # (B, D/2): the backward LSTM ends at the first token
    return torch.cat([forward_last, backward_last], dim=-1)
