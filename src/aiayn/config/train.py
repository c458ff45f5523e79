"""How to train (`TrainConfig`): optimiser, schedule, batching, precision, checkpoints.

The defaults are the paper's (section 5.3 and 5.4): Adam with beta1 0.9, beta2 0.98, eps 1e-9;
the inverse-square-root schedule with 4000 warmup steps; label smoothing 0.1 spread over the
tokens a model can be asked to predict; no gradient clipping. A task whose measured recipe
differs says so in its own defaults.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aiayn.config._base import ConfigBase, at_least, greater_than, in_range, one_of

LR_SCHEDULES: tuple[str, ...] = ("inverse-sqrt", "cosine", "constant")
COSINE_OVER: tuple[str, ...] = ("steps", "minutes")
PRECISIONS: tuple[str, ...] = ("auto", "fp32", "bf16", "fp16")
NONFINITE: tuple[str, ...] = ("stop", "skip")


@dataclass(frozen=True)
class TrainConfig(ConfigBase):
    """How to train one model. Every field is checked when the config is made."""

    max_steps: int = 1000
    max_epochs: int | None = None
    max_minutes: float | None = None
    batch_tokens: int = 4096  # token budget per batch (like fairseq's --max-tokens)
    batch_size: int | None = None  # fixed number of sequences per batch instead of a token budget
    grad_accum: int = 1
    lr_schedule: str = "inverse-sqrt"  # "inverse-sqrt" (the paper's), "cosine", "constant"
    lr: float | None = None  # peak learning rate; None: the paper's d_model^-0.5 formula
    lr_scale: float = 1.0  # multiplies the paper's formula
    min_lr: float = 0.0  # floor of the cosine schedule
    # What the cosine decays over: "steps" (warmup_steps to max_steps) or "minutes" (the
    # max_minutes budget of training time, whatever number of steps the machine fits in it;
    # the rate then depends on the clock, so two runs are not step-for-step identical)
    cosine_over: str = "steps"
    warmup_steps: int = 4000
    beta1: float = 0.9
    beta2: float = 0.98
    eps: float = 1e-9
    weight_decay: float = 0.0  # decoupled (AdamW), on weight matrices only
    # fine-tuning: each layer down from the top learns at this factor of the one above (1: off)
    layer_lr_decay: float = 1.0
    # fine-tuning: a regular expression; parameters whose names it matches are not trained
    # (e.g. "word_embeddings" keeps a pretrained vocabulary fixed)
    freeze: str | None = None
    label_smoothing: float = 0.1  # epsilon_ls
    # False: the smoothing mass goes to the tokens a model can be asked to predict, not to
    # <pad> and <bos>, which are never targets. True spreads it over the whole vocabulary.
    smooth_over_specials: bool = False
    clip_grad_norm: float | None = None  # the paper does not clip; e.g. 1.0 clips the norm at 1
    # A NaN or infinite loss or gradient: "stop" the run there, naming the step (nothing of that
    # step is applied or saved); "skip" passes over such a step and stops after 3 in a row.
    nonfinite: str = "stop"
    # "auto": bf16 autocast where the device has native bf16 (AVX-512 BF16 / AMX, or a CUDA GPU
    # that supports it), else fp32; the run stores what it chose. "fp16" needs CUDA.
    precision: str = "auto"
    compile: bool = False  # torch.compile the model for training (`compile_backend`)
    compile_backend: str = "inductor"  # e.g. "aot_eager", which needs no C++ compiler
    seed: int = 0
    eval_every: int = 500
    eval_batches: int | None = None
    log_every: int = 50
    checkpoint_every: int = 500
    keep_checkpoints: int = 3
    tensorboard: bool = True  # mirror metrics.jsonl to TensorBoard (importing it takes ~2 s)
    plots: bool = True  # draw loss and learning-rate curves as PNGs at the end
    early_stopping_patience: int | None = None
    device: str = "auto"

    def validate(self) -> None:
        one_of("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        one_of("precision", self.precision, PRECISIONS)
        one_of("nonfinite", self.nonfinite, NONFINITE)
        one_of("cosine_over", self.cosine_over, COSINE_OVER)
        if self.cosine_over == "minutes" and (
            self.lr_schedule != "cosine" or self.max_minutes is None
        ):
            raise ValueError(
                "cosine_over='minutes' needs lr_schedule='cosine' and max_minutes, got "
                f"lr_schedule={self.lr_schedule!r}, max_minutes={self.max_minutes!r}"
            )
        for name in (
            "max_steps",
            "batch_tokens",
            "grad_accum",
            "eval_every",
            "log_every",
            "checkpoint_every",
            "keep_checkpoints",
        ):
            at_least(name, getattr(self, name), 1)
        for name in ("max_epochs", "batch_size", "eval_batches", "early_stopping_patience"):
            at_least(name, getattr(self, name), 1)
        greater_than("max_minutes", self.max_minutes, 0.0)
        greater_than("lr", self.lr, 0.0)
        greater_than("lr_scale", self.lr_scale, 0.0)
        at_least("min_lr", self.min_lr, 0.0)
        at_least("warmup_steps", self.warmup_steps, 0)
        in_range("beta1", self.beta1, 0.0, 1.0)
        in_range("beta2", self.beta2, 0.0, 1.0)
        greater_than("eps", self.eps, 0.0)
        at_least("weight_decay", self.weight_decay, 0.0)
        if not 0.0 < self.layer_lr_decay <= 1.0:
            raise ValueError(f"layer_lr_decay must be in (0, 1], got {self.layer_lr_decay!r}")
        in_range("label_smoothing", self.label_smoothing, 0.0, 1.0)
        greater_than("clip_grad_norm", self.clip_grad_norm, 0.0)
        if self.freeze is not None:
            try:
                re.compile(self.freeze)
            except re.error as e:
                message = f"freeze must be a regular expression, got {self.freeze!r}: {e}"
                raise ValueError(message) from None
        if not self.compile_backend:
            raise ValueError("compile_backend must name a torch.compile backend, got ''")
        if not self.device:
            raise ValueError("device must name a device (auto, cpu, cuda, cuda:N, mps), got ''")
