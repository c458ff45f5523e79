"""Using a trained run: evaluate, generate, translate, classify, draw attention, average.

Each function takes a loaded `Run` (aiayn.app.runs) and asks its task for the capability the
command needs (aiayn.tasks.capabilities); a run whose task lacks it is refused in one line that
says what the run is and what the command needs.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any, TypeVar

import torch

from aiayn.app.runs import Run, load_run
from aiayn.decoding import SamplingOptions, SearchOptions, generate
from aiayn.errors import AiaynError
from aiayn.evaluation.attention_viz import attention_heatmap
from aiayn.tasks import Classifies, DrawsAttention, Generates, Translates
from aiayn.tokenizers import UNK_ID
from aiayn.training.checkpoint import average_checkpoints, list_checkpoints, save_weights
from aiayn.training.device import device_of, resolve_device

Capability = TypeVar("Capability")
GREEDY = SearchOptions()

_NEEDS = {
    Translates: "a task that translates (an encoder-decoder over text)",
    Generates: "a language model",
    Classifies: "a classification task",
    DrawsAttention: "a translation task",
}


def open_run(
    run_dir: Path,
    *,
    device: str = "auto",
    checkpoint: str = "final",
    data_dir: Path | None = None,
) -> Run:
    """Load a run onto `device` ("auto" picks cuda > mps > cpu)."""
    return load_run(
        Path(run_dir), device=resolve_device(device), checkpoint=checkpoint, data_dir=data_dir
    )


def capability(run: Run, kind: type[Capability], command: str) -> Capability:
    """The run's task as `kind`, or a one-line error naming what the command needs."""
    if not isinstance(run.task, kind):
        raise AiaynError(
            f"{run.directory} is a {run.task.name!r} run; `aiayn {command}` needs {_NEEDS[kind]}"
        )
    return run.task


def evaluate_run(run: Run, split: str) -> dict[str, Any]:
    with torch.no_grad():
        return run.task.evaluate(run.model, split)


def generate_text(
    run: Run, prompt: str, options: SamplingOptions, *, seed: int = 0, allow_unk: bool = False
) -> str:
    """The prompt, as typed, followed by what the model writes after it."""
    task = capability(run, Generates, "generate")
    if not prompt:
        raise AiaynError("the prompt is empty: pass --prompt TEXT")
    kept, first_token_ids = task.heal_prompt(prompt)
    ids = task.encode_prompt(kept)
    if not ids:
        raise AiaynError(f"the prompt {prompt!r} gives no tokens")
    if len(ids) > run.model_config.max_len:
        raise AiaynError(
            f"the prompt has {len(ids)} tokens, more than the model's maximum "
            f"{run.model_config.max_len}"
        )
    device = device_of(run.model)
    options = dataclasses.replace(
        options,
        eos_id=task.eos_id,
        suppress_ids=() if allow_unk else (UNK_ID,),
        first_token_ids=first_token_ids,
    )
    generator = torch.Generator(device=device).manual_seed(seed)
    out = generate(run.model, torch.tensor([ids], device=device), options, generator=generator)
    # The prompt as typed, not as decoded (where a rare word would read "<unk>").
    text, head = task.decode_output(out[0].tolist()), task.decode_output(ids)
    return kept + text[len(head) :] if text.startswith(head) else text


def translate_lines(run: Run, lines: list[str], options: SearchOptions) -> list[str]:
    return capability(run, Translates, "translate").translate(run.model, lines, options)


def classify_lines(run: Run, lines: list[str]) -> list[tuple[str, float]]:
    task = capability(run, Classifies, "classify")
    return task.classify(run.model, lines) if lines else []


def draw_attention(
    run: Run,
    sentence: str,
    out: Path,
    *,
    layer: int = -1,
    average: bool = False,
    options: SearchOptions = GREEDY,
) -> tuple[str, Path]:
    """Translate `sentence` and draw its encoder-decoder attention; (translation, PNG path)."""
    task = capability(run, DrawsAttention, "attention")
    weights, src_tokens, tgt_tokens, translation = task.attention_map(
        run.model, sentence, layer=layer, options=options
    )
    path = attention_heatmap(
        weights,
        src_tokens=src_tokens,
        tgt_tokens=tgt_tokens,
        out=Path(out),
        average_heads=average,
        title=f"decoder layer {layer} cross-attention",
    )
    return translation, path


def average_run(run_dir: Path, last: int) -> tuple[list[str], Path]:
    """Average the last `last` checkpoints into averaged.safetensors (section 6.1)."""
    run = load_run(Path(run_dir), checkpoint="latest")
    checkpoints = list_checkpoints(Path(run_dir) / "checkpoints")[-last:]
    if len(checkpoints) < last:
        raise AiaynError(f"{run_dir} has {len(checkpoints)} checkpoints, fewer than --last {last}")
    average_checkpoints(checkpoints, run.model)
    out = Path(run_dir) / "averaged.safetensors"
    save_weights(run.model, out)
    return [c.name for c in checkpoints], out


__all__ = [
    "average_run",
    "capability",
    "classify_lines",
    "draw_attention",
    "evaluate_run",
    "generate_text",
    "open_run",
    "translate_lines",
]
