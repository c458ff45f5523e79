# Source of notebooks/06-optimisation-toolbox.ipynb (built by notebooks/build.py).
# ruff: noqa: E402

# %% [markdown]
# # 06 · The optimisation toolbox
#
# {colab_badge}
#
# What the training loop does besides the forward and backward pass, one tool per section, each
# with what it changes measured:
#
# - **gradient clipping**: the gradient norm before and after;
# - **the warmup schedule** of section 5.3, plotted;
# - **checkpoints and exact resume**: a run killed with SIGKILL part-way, resumed, and compared
#   loss by loss with a run that was never interrupted;
# - **mixed precision**: bf16 autocast on a CPU; fp16 with a gradient scaler on a CUDA GPU.
#
# About a minute on 2 CPU cores.

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

# %% [markdown]
# ## Settings
#
# `AIAYN_NOTEBOOK_QUICK=1` (what the test suite sets) makes every run shorter; the figures below
# come from the full settings.

# %%
import os
import warnings

# tqdm (through the library) notes that ipywidgets are missing; the bars are off anyway
warnings.filterwarnings("ignore", message="IProgress not found")
QUICK = os.environ.get("AIAYN_NOTEBOOK_QUICK") == "1"
RUN_STEPS = 24 if QUICK else 400  # the killed-and-resumed run
CHECKPOINT_EVERY = 8 if QUICK else 100
LOG_EVERY = 2 if QUICK else 10  # the losses compared between the runs
N_VAL = 64 if QUICK else 256  # held-out sequences decoded at each evaluation
TIMED_STEPS = 3 if QUICK else 20  # steps timed for each precision
DEVICE = "auto"  # cuda > mps > cpu
print(f"quick={QUICK}: resume test over {RUN_STEPS} steps, {TIMED_STEPS} timed steps")

# %%
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from aiayn import TrainConfig, build_model, model_preset
from aiayn.tasks import get_task
from aiayn.training import Trainer, autocast, compute_loss, learning_rate, resolve_device
from aiayn.training.device import native_bf16
from aiayn.training.nonfinite import gradient_norm

device = resolve_device(DEVICE)
RUNS = Path("runs/toolbox")
shutil.rmtree(RUNS, ignore_errors=True)

# The reverse task gives the batches: random symbol sequences, no download.
task = get_task("reverse", {"n_train": 4096, "n_val": 256})
fields = task.prepare(RUNS / "data", TrainConfig())
batch = {
    k: v.to(device)
    for k, v in task.train_source(TrainConfig(batch_size=64)).epoch_batches(0)[0].items()
}
print("device", device, "| batch:", {k: tuple(v.shape) for k, v in batch.items()})

# %% [markdown]
# ## Gradient clipping
#
# The paper does not clip; many later recipes (and aiayn's small-data recipes) clip the global
# gradient norm at 1: when $\lVert g \rVert > c$, every gradient is multiplied by
# $c / \lVert g \rVert$. The direction stays the same, only the length shrinks, so one bad batch
# cannot throw the weights far. The trainer calls `gradient_norm`, which clips (when
# `clip_grad_norm` is set) and returns the norm *before* clipping, the figure worth logging.

# %%
torch.manual_seed(0)
model = build_model(model_preset("tiny").replace(**fields)).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
scaler = torch.amp.GradScaler(device.type, enabled=False)

out = compute_loss(model, batch, pad_id=fields["pad_id"])
(out.loss_sum / out.n_targets).backward()
grads_before = [p.grad.clone() for p in model.parameters()]
returned = gradient_norm(model.parameters(), clip=1.0, optimizer=optimizer, scaler=scaler)
after = torch.nn.utils.get_total_norm([p.grad for p in model.parameters()])
flat_before = torch.cat([g.flatten() for g in grads_before])
flat_after = torch.cat([p.grad.flatten() for p in model.parameters()])
print(
    f"gradient norm before clipping: {flat_before.norm():.3f} (gradient_norm returned "
    f"{returned:.3f})"
)
print(f"gradient norm after clipping at 1.0: {after:.3f}")
print(
    f"cosine between the gradient before and after: "
    f"{torch.nn.functional.cosine_similarity(flat_before, flat_after, dim=0):.4f}"
)

# %% [markdown]
# ## The learning-rate schedule of section 5.3
#
# $$lrate = d_{model}^{-0.5} \cdot \min(step^{-0.5},\; step \cdot warmup\_steps^{-1.5})$$
#
# A linear warmup for `warmup_steps` (4000 in the paper), then a decay with the inverse square
# root of the step. The peak, at the end of the warmup, is $(d_{model} \cdot
# warmup\_steps)^{-0.5}$. Adam's second-moment estimates are poor in the first steps; a small
# learning rate there keeps the post-norm Transformer from diverging. The toy tasks use the other
# schedule the library has, a warmup then a cosine decay, drawn for comparison.

# %%
steps = list(range(1, 100_001, 50))
fig, ax = plt.subplots(figsize=(10, 3.5))
for d_model, warmup in ((512, 4000), (512, 8000), (1024, 4000)):
    cfg = TrainConfig(lr_schedule="inverse-sqrt", warmup_steps=warmup, max_steps=100_000)
    lrs = [learning_rate(s, cfg, d_model=d_model) for s in steps]
    ax.plot(steps, lrs, label=f"inverse-sqrt, d_model={d_model}, warmup={warmup}")
    print(
        f"d_model={d_model:4d} warmup={warmup}: peak {max(lrs):.2e} at step "
        f"{steps[lrs.index(max(lrs))]} (formula {(d_model * warmup) ** -0.5:.2e})"
    )
cos = TrainConfig(lr_schedule="cosine", lr=7e-4, min_lr=7e-5, warmup_steps=4000, max_steps=100_000)
ax.plot(
    steps,
    [learning_rate(s, cos, d_model=512) for s in steps],
    "--",
    label="cosine, peak 7e-4, warmup 4000",
)
ax.set(xlabel="step", ylabel="learning rate", title="learning-rate schedules")
ax.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## A checkpoint, a kill, an exact resume
#
# A run is trained twice with the same command: once straight through, and once killed with
# SIGKILL (no chance to clean up) at a step observed in its `metrics.jsonl`, then continued with
# `--resume`. A checkpoint holds the weights, the optimiser's moments, the step, the position in
# the data (epoch, batch) and every random generator's state, written atomically, so the resumed
# run takes exactly the steps the uninterrupted one took. The losses must be *equal*, not close.


# %%
def command(out: Path, *extra: str) -> list[str]:
    sets = [
        f"max_steps={RUN_STEPS}",
        f"checkpoint_every={CHECKPOINT_EVERY}",
        f"log_every={LOG_EVERY}",
        f"eval_every={CHECKPOINT_EVERY}",
        "n_train=4096",
        f"n_val={N_VAL}",
        "tensorboard=false",
        "plots=false",
    ]
    return [
        sys.executable,
        "-m",
        "aiayn",
        "train",
        "reverse",
        "--out",
        str(out),
        "--device",
        DEVICE,
        *(x for s in sets for x in ("--set", s)),
        *extra,
    ]


def losses(out: Path) -> dict[int, float]:
    """The training loss logged at each step of a run's metrics.jsonl."""
    out_losses = {}
    for line in (out / "metrics.jsonl").read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line still being written
            continue
        if "train_loss" in record:
            out_losses[record["step"]] = record["train_loss"]
    return out_losses


started = time.perf_counter()
subprocess.run(command(RUNS / "straight"), check=True, capture_output=True)
print(f"uninterrupted run: {time.perf_counter() - started:.1f} s")

# The same run, killed once it has passed its first checkpoint and logged a few steps more.
kill_after = CHECKPOINT_EVERY + CHECKPOINT_EVERY // 2
proc = subprocess.Popen(
    command(RUNS / "killed"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
)
metrics = RUNS / "killed" / "metrics.jsonl"
seen = 0
while proc.poll() is None:
    if metrics.is_file():
        seen = max(losses(RUNS / "killed"), default=0)
        if seen >= kill_after:
            proc.send_signal(signal.SIGKILL)
            break
    time.sleep(0.02)
proc.wait()
assert proc.returncode == -signal.SIGKILL, "the run ended before it could be killed"
checkpoints = sorted(p.name for p in (RUNS / "killed" / "checkpoints").glob("step-*"))
print(f"killed with SIGKILL after step {seen} had been logged; checkpoints on disk: {checkpoints}")
assert not (RUNS / "killed" / "model.safetensors").exists()  # it never finished

started = time.perf_counter()
subprocess.run(command(RUNS / "killed", "--resume"), check=True, capture_output=True)
print(f"resumed run: {time.perf_counter() - started:.1f} s")

# %%
a, b = losses(RUNS / "straight"), losses(RUNS / "killed")
print(" step   uninterrupted   killed+resumed")
for step in sorted(a)[:: max(1, len(a) // 8)] + [max(a)]:
    same = "equal" if a[step] == b[step] else "DIFFERENT"
    print(f"{step:5d}   {a[step]:.10f}    {b[step]:.10f}   {same}")
assert a == b, "the resumed run did not take the same steps"
same_weights = (RUNS / "straight" / "model.safetensors").read_bytes() == (
    RUNS / "killed" / "model.safetensors"
).read_bytes()
print(f"all {len(a)} logged losses equal; final weights files byte-for-byte equal: {same_weights}")

# %% [markdown]
# ## Regularisation (section 5.4): dropout and label smoothing
#
# **Dropout**, $P_{drop} = 0.1$ for the base model, on the output of every sub-layer before the
# residual sum, and on the sums of the embeddings and positional encodings. It is on in training
# mode only: the same input gives a different output at every call, and the same output every
# time in evaluation mode.

# %%
from aiayn.training import label_smoothed_cross_entropy

torch.manual_seed(0)
dropped = build_model(model_preset("tiny", p_drop=0.1).replace(**fields)).to(device)
src, tgt_in = batch["src"][:4], batch["tgt_in"][:4]
with torch.no_grad():
    dropped.train()
    a, b = dropped(src, tgt_in), dropped(src, tgt_in)
    dropped.eval()
    c, d = dropped(src, tgt_in), dropped(src, tgt_in)
    emb = dropped.train().src_embed(src)
print(
    f"training mode: two calls differ by up to {(a - b).abs().max():.3f}; evaluation mode: "
    f"{(c - d).abs().max():.1e}"
)
print(f"share of the embedding sum zeroed in training mode: {(emb == 0).float().mean():.3f}")

# %% [markdown]
# **Label smoothing**, $\epsilon_{ls} = 0.1$: the target is $(1 - \epsilon)$ on the right token
# and $\epsilon$ spread over the others, instead of a one-hot vector. "This hurts perplexity, as
# the model learns to be more unsure, but improves accuracy and BLEU score." Measured on a
# vocabulary of 10 tokens: the loss of predictions more and more confident in the right token.
# Without smoothing the loss keeps falling as the confidence grows; with it, the loss is lowest
# at a confidence of about $1 - \epsilon$ and rises again past it, so the model is never pushed
# towards infinitely large logits.

# %%
V = 10
target = torch.tensor([3])
print(" p(right token)   loss eps=0   loss eps=0.1")
for p_right in (0.5, 0.8, 0.9, 0.95, 0.99, 0.999):
    probs = torch.full((1, V), (1 - p_right) / (V - 1))
    probs[0, 3] = p_right
    logits = probs.log()
    plain, _ = label_smoothed_cross_entropy(logits, target)
    smooth, _ = label_smoothed_cross_entropy(logits, target, epsilon=0.1)
    print(f"{p_right:15.3f}   {plain.item():10.4f}   {smooth.item():12.4f}")

# %% [markdown]
# ## Mixed precision
#
# Under autocast, matrix multiplications run in a 16-bit format while the weights, the optimiser
# and reductions such as the softmax and the loss stay in fp32.
# - **bf16** has fp32's exponent range with fewer mantissa bits: it needs no loss scaling. On a
#   CPU with native bf16 (AVX-512 BF16 or AMX) it roughly halves the time of a step; on other
#   CPUs it is emulated and slower. `precision="auto"` picks it only where it is native.
# - **fp16** has a narrow range: small gradients underflow to zero, so the loss is multiplied by
#   a large factor before the backward pass and the gradients divided by it before the step
#   (`torch.amp.GradScaler`, which the trainer adds for `precision="fp16"`). It needs CUDA.
#
# Measured below: the time of a training step of the `small` preset, the dtype the logits come
# out in, and how far the bf16 loss is from the fp32 one on the same batch and weights.


# %%
def trainer_for(precision: str, out: str) -> Trainer:
    torch.manual_seed(0)
    config = TrainConfig(
        max_steps=1000,
        batch_size=64,
        lr=5e-4,
        lr_schedule="constant",
        warmup_steps=0,
        precision=precision,
        tensorboard=False,
        plots=False,
    )
    m = build_model(model_preset("small").replace(**fields))
    return Trainer(
        model=m,
        config=config,
        train_data=task.train_source(config),
        out_dir=RUNS / out,
        device=device,
        d_model=m.config.d_model,
        pad_id=fields["pad_id"],
    )


def timed_steps(trainer: Trainer) -> tuple[float, float]:
    trainer.step()  # warm-up step, not timed
    started = time.perf_counter()
    total = n = 0.0
    for _ in range(TIMED_STEPS):
        loss_sum, _, targets = trainer.step()
        total, n = total + loss_sum, n + targets
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / TIMED_STEPS, total / n


print(f"native bf16 on {device}: {native_bf16(device)}")
precisions = ["fp32", "bf16"] + (["fp16"] if device.type == "cuda" else [])
results = {}
for precision in precisions:
    trainer = trainer_for(precision, f"mp-{precision}")
    with torch.no_grad(), autocast(device, precision):
        logits = trainer.module(batch["src"], batch["tgt_in"])
        ref_loss = compute_loss(trainer.module, batch, pad_id=fields["pad_id"])
    seconds, loss = timed_steps(trainer)
    weight_dtype = next(trainer.module.parameters()).dtype
    results[precision] = (seconds, ref_loss.loss_sum.item() / ref_loss.n_targets.item())
    extra = f", grad scale {trainer.scaler.get_scale():.0f}" if trainer.scaler.is_enabled() else ""
    print(
        f"{precision}: {seconds * 1000:6.1f} ms a step; logits {logits.dtype}, weights "
        f"{weight_dtype}; loss after {TIMED_STEPS + 1} steps {loss:.4f}{extra}"
    )
base_time, base_loss = results["fp32"]
for precision, (seconds, first_loss) in results.items():
    if precision != "fp32":
        print(
            f"{precision} vs fp32: {base_time / seconds:.2f}x the speed; the same batch and "
            f"weights give a loss {abs(first_loss - base_loss):.1e} away ({first_loss:.5f} vs "
            f"{base_loss:.5f})"
        )
if device.type != "cuda":
    try:
        autocast(device, "fp16")
    except Exception as error:  # the library refuses it in one line
        print(f"fp16 on {device.type}: {error}")
