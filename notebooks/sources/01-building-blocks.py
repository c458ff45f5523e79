# Source of notebooks/01-building-blocks.ipynb (built by notebooks/build.py).
# ruff: noqa: E402

# %% [markdown]
# # 01 · The building blocks of the Transformer
#
# {colab_badge}
#
# Section 3 of "Attention Is All You Need", one block at a time, with the library's own modules:
# the positional encoding (3.5), scaled dot-product attention (3.2.1) worked by hand, the masks
# (3.2.3), multi-head attention (3.2.2) checked against `torch.nn.MultiheadAttention`, the
# feed-forward network (3.3), residual connections and layer norm (3.1), one encoder and one
# decoder layer, the whole model, and the size of the paper's base model (Table 3).
#
# Nothing here trains: the notebook runs in a few seconds on a CPU.

# %%
# Install the package when it is missing (on Colab, for instance).
try:
    import aiayn
except ImportError:
    import subprocess
    import sys

    package = "aiayn[pretrained] @ git+https://github.com/aiayn/aiayn"
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", package])
    import aiayn
print("aiayn", aiayn.__version__)

# %%
import inspect
import math

import matplotlib.pyplot as plt
import torch

from aiayn.training import resolve_device

torch.manual_seed(0)
device = resolve_device("auto")  # cuda > mps > cpu; these blocks are small, any will do
print("torch", torch.__version__, "| device", device)

# %% [markdown]
# ## 3.5 Positional encoding
#
# The model has no recurrence and no convolution, so the order of the tokens must be added to
# their embeddings. The paper adds a fixed table of sinusoids:
#
# $$PE_{(pos, 2i)} = \sin(pos / 10000^{2i/d_{model}}), \qquad
#   PE_{(pos, 2i+1)} = \cos(pos / 10000^{2i/d_{model}})$$
#
# Dimension pair $i$ is a sinusoid of wavelength $2\pi \cdot 10000^{2i/d_{model}}$: "the
# wavelengths form a geometric progression from $2\pi$ to $10000 \cdot 2\pi$".

# %%
from aiayn.nn import sinusoidal_positional_encoding

max_len, d_model = 200, 64
pe = sinusoidal_positional_encoding(max_len, d_model)  # (max_len, d_model)
print("table:", tuple(pe.shape))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 3.5))
im = ax1.imshow(pe.T, aspect="auto", cmap="RdBu", vmin=-1, vmax=1)
ax1.set(xlabel="position", ylabel="dimension", title="PE(pos, dim)")
fig.colorbar(im, ax=ax1)
for dim in (0, 8, 16, 32):
    ax2.plot(pe[:, dim], label=f"dim {dim}")
ax2.set(xlabel="position", title="a few dimensions: slower and slower sinusoids")
ax2.legend(fontsize=8)
plt.show()

# %% [markdown]
# The wavelengths, measured from the table (the distance between two upward zero crossings of
# the sine dimensions, on a longer table) against the paper's formula:

# %%
long = sinusoidal_positional_encoding(20000, d_model).double()
print(" i  formula 2*pi*10000^(2i/d)   measured")
for i in (0, 1, 2, 4, 8):
    s = long[:, 2 * i]
    up = ((s[:-1] < 0) & (s[1:] >= 0)).nonzero().flatten().double()
    # interpolate the crossing between the two positions
    frac = -s[up.long()] / (s[up.long() + 1] - s[up.long()])
    crossings = up + frac
    measured = (crossings[-1] - crossings[0]) / (len(crossings) - 1)
    print(f"{i:2d}  {2 * math.pi * 10000 ** (2 * i / d_model):18.3f}   {measured:10.3f}")
print(
    f"longest wavelength for d_model={d_model}: "
    f"{2 * math.pi * 10000 ** ((d_model - 2) / d_model):.0f} positions (bound 2*pi*10000 = "
    f"{2 * math.pi * 10000:.0f})"
)

# %% [markdown]
# Why sinusoids: "for any fixed offset $k$, $PE_{pos+k}$ can be represented as a linear function
# of $PE_{pos}$". For each pair of dimensions the function is a rotation by the angle
# $k / 10000^{2i/d}$, the same for every position:

# %%
k = 7
angles = k / 10000 ** (torch.arange(0, d_model, 2).double() / d_model)  # (d_model/2,)
c, s = angles.cos(), angles.sin()
p = pe.double()
sin_part, cos_part = p[:-k, 0::2], p[:-k, 1::2]
rotated = torch.empty_like(p[:-k])
rotated[:, 0::2] = sin_part * c + cos_part * s  # sin(a + b)
rotated[:, 1::2] = cos_part * c - sin_part * s  # cos(a + b)
print(
    "max |R_k PE(pos) - PE(pos + k)| over all positions:",
    f"{(rotated - p[k:]).abs().max().item():.2e}",
)

# %% [markdown]
# ## 3.2.1 Scaled dot-product attention, by hand
#
# $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V$$
#
# Three queries, four keys and values, $d_k = 2$: small enough to follow every number. The
# library's function is written out the same way (its source is shown below).

# %%
from aiayn.nn import scaled_dot_product_attention

q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # (T=3, d_k=2)
k = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [0.5, 0.5]])  # (S=4, d_k=2)
v = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 2.0], [-1.0, 1.0]])  # (S=4, d_v=2)

scores = q @ k.T / math.sqrt(2)  # (3, 4)
by_hand_weights = scores.exp() / scores.exp().sum(-1, keepdim=True)  # softmax over the keys
by_hand = by_hand_weights @ v  # (3, 2)

out, weights = scaled_dot_product_attention(q, k, v)
torch.set_printoptions(precision=4, sci_mode=False)
print("scores / sqrt(d_k):\n", scores)
print("weights by hand:\n", by_hand_weights)
print("output by hand:\n", by_hand)
print("output of aiayn.nn.scaled_dot_product_attention:\n", out)
torch.testing.assert_close(out, by_hand)
torch.testing.assert_close(weights, by_hand_weights)
print("equal.")

# %%
print(inspect.getsource(scaled_dot_product_attention))

# %% [markdown]
# Why divide by $\sqrt{d_k}$: with unit-variance queries and keys, a dot product of $d_k$ terms
# has variance $d_k$, and large scores push the softmax into regions where it is almost one-hot
# and its gradient vanishes. Measured on random vectors:

# %%
for d_k in (4, 64, 512):
    qs, ks = torch.randn(1000, 1, d_k), torch.randn(1000, 10, d_k)  # 1000 queries, 10 keys each
    raw = (qs * ks).sum(-1)  # (1000, 10) dot products
    top_raw = torch.softmax(raw, -1).max(-1).values.mean()
    top_scaled = torch.softmax(raw / math.sqrt(d_k), -1).max(-1).values.mean()
    print(
        f"d_k={d_k:3d}: std of q.k {raw.std():5.2f} -> {(raw / math.sqrt(d_k)).std():.2f} "
        f"scaled; largest of 10 softmax weights, on average: {top_raw:.2f} unscaled, "
        f"{top_scaled:.2f} scaled"
    )

# %% [markdown]
# ## 3.2.3 Masks: padding and subsequent positions
#
# One convention everywhere in the library: a mask is boolean and `True` means "may attend".
# A padding mask hides the padding keys of each sentence; the causal ("subsequent positions")
# mask of the decoder lets query $i$ see keys $\le i$ only. Masked scores become $-\infty$
# before the softmax, so their weights are exactly zero.

# %%
from aiayn.nn import causal_mask, padding_mask

PAD = 0
tokens = torch.tensor([[5, 6, 7, 8, 9, 4], [5, 6, 7, PAD, PAD, PAD]])  # (B=2, T=6)
pad = padding_mask(tokens, PAD)  # (B, 1, 1, T)
causal = causal_mask(6)  # (T, T)
both = pad & causal  # broadcasts to (B, 1, T, T)
print(
    "padding mask",
    tuple(pad.shape),
    "| causal mask",
    tuple(causal.shape),
    "| combined",
    tuple(both.shape),
)

fig, axes = plt.subplots(1, 3, figsize=(11, 3.4))
panels = [
    (pad[1, 0].expand(6, 6), "padding (sentence 2)"),
    (causal, "causal"),
    (both[1, 0], "both (sentence 2)"),
]
for ax, (m, title) in zip(axes, panels, strict=True):
    ax.imshow(m, cmap="Greens", vmin=0, vmax=1)
    ax.set(title=title, xlabel="key position", ylabel="query position")
plt.suptitle("green = may attend")
plt.tight_layout()
plt.show()

x = torch.randn(2, 6, 8)
_, w = scaled_dot_product_attention(x, x, x, both)
print(
    "weights of sentence 2's query 4 (keys 3-5 are padding, keys 5 also in the future):\n",
    w[1, 0, 4],
)

# %% [markdown]
# ## 3.2.2 Multi-head attention, against `torch.nn.MultiheadAttention`
#
# $\mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(head_1, \dots, head_h) W^O$ with
# $head_i = \mathrm{Attention}(QW_i^Q, KW_i^K, VW_i^V)$. The library stores the $h$ projections
# $W_i^Q$ side by side as one $d_{model} \times d_{model}$ layer. `aiayn.interop.mha_to_torch`
# copies the weights into PyTorch's own module; the two must agree, with padding and causal
# masks (PyTorch's masks say the opposite, `True` = ignore, and are converted at the boundary).

# %%
from aiayn.interop import mha_to_torch, to_torch_attn_mask, to_torch_key_padding_mask
from aiayn.nn import MultiHeadAttention

mha = MultiHeadAttention(d_model=32, n_heads=4).eval()
theirs = mha_to_torch(mha).eval()  # torch.nn.MultiheadAttention(32, 4, batch_first=True)
print(theirs)

x = torch.randn(2, 6, 32)  # (B, T, d_model)
memory = torch.randn(2, 5, 32)  # (B, S, d_model), e.g. an encoder's output
src_tokens = torch.tensor([[4, 5, 6, 7, 8], [4, 5, PAD, PAD, PAD]])
with torch.no_grad():
    # decoder-style self-attention with the causal mask
    ours_self = mha(x, causal=True)
    ref_self, _ = theirs(x, x, x, attn_mask=to_torch_attn_mask(causal_mask(6)))
    # encoder-decoder attention with a padding mask on the memory
    ours_cross = mha(x, memory, mask=padding_mask(src_tokens, PAD))
    ref_cross, _ = theirs(
        x, memory, memory, key_padding_mask=to_torch_key_padding_mask(src_tokens, PAD)
    )
for name, a, b in (
    ("self-attention, causal", ours_self, ref_self),
    ("cross-attention, padding", ours_cross, ref_cross),
):
    torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    print(f"{name}: max |ours - torch| = {(a - b).abs().max().item():.1e}")

# %% [markdown]
# The heads attend differently. `need_weights=True` keeps each head's weights (the fast path,
# PyTorch's fused kernel, never materialises them):

# %%
with torch.no_grad():
    mha(x, causal=True, need_weights=True)
fig, axes = plt.subplots(1, 4, figsize=(12, 3))
for h, ax in enumerate(axes):
    ax.imshow(mha.last_weights[0, h], cmap="viridis", vmin=0, vmax=1)
    ax.set(title=f"head {h}", xlabel="key", ylabel="query")
plt.suptitle("masked self-attention weights of an untrained layer, per head")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3.3 Position-wise feed-forward network
#
# $\mathrm{FFN}(x) = \max(0, xW_1 + b_1)W_2 + b_2$, $d_{model} \to d_{ff} \to d_{model}$,
# "applied to each position separately and identically". So shuffling the positions shuffles
# the outputs and changes nothing else:

# %%
from aiayn.nn import PositionwiseFeedForward

ffn = PositionwiseFeedForward(d_model=32, d_ff=128)
x = torch.randn(1, 6, 32)
perm = torch.randperm(6)
with torch.no_grad():
    torch.testing.assert_close(ffn(x)[:, perm], ffn(x[:, perm]))
print(ffn)
print("FFN(x)[perm] == FFN(x[perm]): each position is transformed on its own")

# %% [markdown]
# ## 3.1 Residual connection and layer norm, post-norm against pre-norm
#
# Every sub-layer is wrapped as $\mathrm{LayerNorm}(x + \mathrm{Sublayer}(x))$ (the paper's
# *post-norm*). The option `norm_first=True` gives the *pre-norm* variant used by GPT-2 and most
# later models, $x + \mathrm{Sublayer}(\mathrm{LayerNorm}(x))$, which needs a final LayerNorm at
# the top of the stack and trains more easily without a long warmup. What changes, measured: the
# size of the residual stream through a stack of 12 random layers.

# %%
from aiayn import ModelConfig
from aiayn.nn import Encoder, ResidualNorm

print(inspect.getsource(ResidualNorm.forward))

x = torch.randn(4, 10, 64)
for norm_first in (False, True):
    config = ModelConfig(
        d_model=64, n_heads=4, d_ff=256, n_layers=12, p_drop=0.0, norm_first=norm_first
    )
    encoder = Encoder(config).eval()
    h, sizes = x, []
    with torch.no_grad():
        for layer in encoder.layers:
            h = layer(h)
            sizes.append(h.norm(dim=-1).mean().item())
    name = "pre-norm " if norm_first else "post-norm"
    print(
        f"{name}: |x| per position after layers 1, 4, 8, 12: "
        + ", ".join(f"{sizes[i]:.1f}" for i in (0, 3, 7, 11))
    )
print(
    f"(a LayerNorm output has |x| = sqrt(d_model) = {math.sqrt(64):.1f}; pre-norm's residual "
    "stream grows, and its final LayerNorm brings it back)"
)

# %% [markdown]
# ## One encoder layer and one decoder layer
#
# An encoder layer is self-attention then the feed-forward network, each with its residual
# connection and LayerNorm. A decoder layer has three sub-layers: masked self-attention,
# encoder-decoder attention over the encoder's output, and the feed-forward network.

# %%
from aiayn.nn import DecoderLayer, EncoderLayer, LayerSpec

spec = LayerSpec(d_model=32, n_heads=4, d_ff=128, dropout=0.0)
enc_layer, dec_layer = EncoderLayer(spec).eval(), DecoderLayer(spec).eval()
print(dec_layer)

src = torch.randn(2, 5, 32)
tgt = torch.randn(2, 7, 32)
with torch.no_grad():
    memory = enc_layer(src, padding_mask(src_tokens, PAD))
    y = dec_layer(tgt, memory, memory_mask=padding_mask(src_tokens, PAD))
    # the decoder is causal: changing the last target position leaves the others as they were
    tgt2 = tgt.clone()
    tgt2[:, -1] += 10.0
    y2 = dec_layer(tgt2, memory, memory_mask=padding_mask(src_tokens, PAD))
print(
    "encoder layer:",
    tuple(src.shape),
    "->",
    tuple(memory.shape),
    "| decoder layer:",
    tuple(tgt.shape),
    "->",
    tuple(y.shape),
)
print(
    "changed the last target position; outputs 0-5 moved by",
    f"{(y2[:, :-1] - y[:, :-1]).abs().max().item():.1e}, output 6 by "
    f"{(y2[:, -1] - y[:, -1]).abs().max().item():.2f}",
)

# %% [markdown]
# ## The whole model (Figure 1)
#
# `EncoderDecoder`: shared token embeddings multiplied by $\sqrt{d_{model}}$ (3.4), plus the
# positional encoding, into $N$ encoder layers and $N$ decoder layers; the pre-softmax linear
# layer reuses the embedding matrix (3.4: "we share the same weight matrix between the two
# embedding layers and the pre-softmax linear transformation"). It returns logits.

# %%
from aiayn import build_model, model_preset

config = model_preset("tiny", vocab_size=20)
model = build_model(config).to(device).eval()
src = torch.randint(4, 20, (2, 9), device=device)
tgt_in = torch.randint(4, 20, (2, 6), device=device)
with torch.no_grad():
    logits = model(src, tgt_in)
print(
    f"{type(model).__name__}: src {tuple(src.shape)}, tgt_in {tuple(tgt_in.shape)} -> "
    f"logits {tuple(logits.shape)} (B, T, vocabulary)"
)
print(
    "pre-softmax projection is the embedding matrix:",
    model.generator.weight is model.src_embed.token.weight,
    "| source and target embeddings shared:",
    model.src_embed.token is model.tgt_embed.token,
)

# %% [markdown]
# ## The size of the paper's models (Table 3)
#
# The presets `paper-base` and `paper-big` are the two models of Table 3: $N=6$,
# $d_{model}=512$, $d_{ff}=2048$, $h=8$ (base) and $d_{model}=1024$, $d_{ff}=4096$, $h=16$
# (big), with a shared vocabulary of 37000 BPE tokens. Built on PyTorch's "meta" device, they
# allocate no memory, so counting their parameters takes no time:

# %%
from aiayn.models import count_parameters

table3 = {"paper-base": 65e6, "paper-big": 213e6}
for name, paper in table3.items():
    c = model_preset(name)
    with torch.device("meta"):
        m = build_model(c)
    n = count_parameters(m)
    emb = c.vocab_size * c.d_model
    print(
        f"{name}: {n / 1e6:.1f}M parameters (Table 3: {paper / 1e6:.0f}M); "
        f"d_model={c.d_model}, d_ff={c.d_ff}, h={c.n_heads}, N={c.n_layers}; "
        f"the shared embedding is {emb / 1e6:.1f}M of them"
    )

# %% [markdown]
# The base model comes to 63.1M against the paper's 65M (the big one to 214.2M against 213M). The
# paper does not say how it counted; the vocabulary is the usual suspect: 37000 is the shared
# English-German vocabulary, and a separate output matrix or a slightly larger vocabulary would
# account for the 2M. Per layer the count is exact: an encoder layer has
# $4 d_{model}^2 + 2 d_{model} d_{ff}$ weights plus biases and LayerNorms, as counted here.

# %%
c = model_preset("paper-base")
d, f = c.d_model, c.d_ff
enc_layer_params = (4 * d * d + 4 * d) + (2 * d * f + f + d) + 2 * (2 * d)
dec_layer_params = 2 * (4 * d * d + 4 * d) + (2 * d * f + f + d) + 3 * (2 * d)
formula = c.vocab_size * d + c.n_layers * (enc_layer_params + dec_layer_params)
with torch.device("meta"):
    counted = count_parameters(build_model(c))
print(f"paper-base by the formula: {formula:,} | counted: {counted:,}")
assert formula == counted

# %% [markdown]
# ## Why these pieces, and not others?
#
# Four questions a reader of this notebook asks: why attention and not recurrence; why Q, K and V
# have these sizes and why the scores are divided by sqrt(d_k); whether every layer's dense
# weights are different; and why there are skip connections around every sub-layer.
# [docs/first-principles.md](../docs/first-principles.md) answers each by experiment: take the
# piece away or swap it, train, and compare. Each experiment is one command, `aiayn ablate NAME`,
# that runs in a few minutes on a CPU and draws its figure.
