"""Using a trained run: evaluate, generate (whole or streamed), translate, summarise, classify,
average. (Attention: aiayn.app.attention; a file of examples scored: aiayn.app.scoring.)

Each function takes a loaded `Run` (aiayn.app.runs) and asks its task for the capability the
command needs (aiayn.tasks.capabilities); a run whose task lacks it is refused in one line that
says what the run is and what the command needs.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import torch

from aiayn.app.runs import Run, load_run
from aiayn.decoding import SamplingOptions, SearchOptions, generate
from aiayn.decoding.sampling import sample_next_token
from aiayn.errors import AiaynError
from aiayn.tasks import Classifies, Generates, Summarizes, Translates
from aiayn.tokenizers import UNK_ID
from aiayn.training.checkpoint import average_checkpoints, list_checkpoints, save_weights
from aiayn.training.device import device_of, resolve_device

Capability = TypeVar("Capability")
GREEDY = SearchOptions()

_NEEDS = {
    Translates: "a task that translates (an encoder-decoder over text)",
    Generates: "a language model",
    Classifies: "a classification task",
    Summarizes: "a summarisation task",
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


def _prompt(
    run: Run, prompt: str, options: SamplingOptions, allow_unk: bool
) -> tuple[Generates, str, list[int], SamplingOptions]:
    """(the task, the prompt text encoded, its ids, the options with the task's EOS, the
    suppressed <unk> and the healed prompt's first tokens)."""
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
    options = dataclasses.replace(
        options,
        eos_id=task.eos_id,
        suppress_ids=() if allow_unk else (UNK_ID,),
        first_token_ids=first_token_ids,
    )
    return task, kept, ids, options


def generate_text(
    run: Run, prompt: str, options: SamplingOptions, *, seed: int = 0, allow_unk: bool = False
) -> str:
    """The prompt, as typed, followed by what the model writes after it."""
    task, kept, ids, options = _prompt(run, prompt, options, allow_unk)
    device = device_of(run.model)
    generator = torch.Generator(device=device).manual_seed(seed)
    out = generate(run.model, torch.tensor([ids], device=device), options, generator=generator)
    # The prompt as typed, not as decoded (where a rare word would read "<unk>").
    text, head = task.decode_output(out[0].tolist()), task.decode_output(ids)
    return kept + text[len(head) :] if text.startswith(head) else text


def stream_text(
    run: Run,
    prompt: str,
    options: SamplingOptions,
    *,
    seed: int = 0,
    allow_unk: bool = False,
    record: list[int] | None = None,
) -> Iterator[str]:
    """What the model writes after `prompt`, yielded piece by piece as each token is sampled.

    The same tokens as `generate_text` with the same seed (one KV-cached step a token; past the
    model's max_len the window slides and is recomputed, as aiayn.decoding.generate does). A
    piece is the text a token adds; a token that only completes a later character adds "".
    `record`, when given, is filled with the token ids as they are made: the prompt's first,
    then each sampled token (to draw the attention of the text afterwards).
    """
    task, kept, ids, o = _prompt(run, prompt, options, allow_unk)
    model, max_len = run.model, run.model_config.max_len
    device = device_of(model)
    generator = torch.Generator(device=device).manual_seed(seed)
    tokens = [] if record is None else record
    tokens[:] = ids
    cache = model.new_cache(capacity=min(len(ids) + o.max_new_tokens, max_len))
    pending = torch.tensor([ids], device=device)  # (1, T): what the cache has not seen
    suppress = torch.tensor(o.suppress_ids, dtype=torch.long, device=device)
    head, shown = task.decode_output(ids), ""
    for step in range(o.max_new_tokens):
        with torch.inference_mode():
            if cache is not None and len(tokens) <= max_len:
                logits = model(pending, cache=cache)[:, -1]  # (1, T_new, V) -> (1, V)
            else:
                cache = None
                window = torch.tensor([tokens[-max_len:]], device=device)  # (1, max_len)
                logits = model(window)[:, -1]  # (1, V)
            if o.suppress_ids:
                logits = logits.index_fill(1, suppress, float("-inf"))
            if step == 0 and o.first_token_ids is not None:
                only = torch.full_like(logits, float("-inf"))
                only[:, list(o.first_token_ids)] = 0.0
                logits = logits + only
            token = sample_next_token(
                logits,
                temperature=o.temperature,
                top_k=o.top_k,
                top_p=o.top_p,
                generator=generator,
            )  # (1,)
        if o.eos_id is not None and int(token) == o.eos_id:
            return
        tokens.append(int(token))
        pending = token.view(1, 1)
        text = task.decode_output(tokens)
        full = kept + (text[len(head) :] if text.startswith(head) else text)
        # After the prompt as typed (a healed prompt's last piece comes back in the first token).
        new = full[len(prompt) :] if full.startswith(prompt) else full[len(kept) :]
        if new.startswith(shown):
            piece, shown = new[len(shown) :], new
            yield piece


def translate_lines(
    run: Run, lines: list[str], options: SearchOptions, *, first_line: int = 1
) -> list[str]:
    """The translations of `lines` (line `first_line` of the input first), in order."""
    task = capability(run, Translates, "translate")
    return task.translate(run.model, lines, options, first_line=first_line)


def document_of(line: str, source_field: str, number: int) -> str:
    """The document of one input line: a JSON object's `source_field`, or the line as text."""
    if line.lstrip().startswith("{"):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return line  # text that happens to start with a brace
        if isinstance(record, dict):
            value = record.get(source_field)
            if not isinstance(value, str):
                raise AiaynError(
                    f"line {number} is a JSON record without a text field {source_field!r} "
                    f"(it has: {', '.join(map(str, record)) or 'no fields'})"
                )
            return value
    return line


def summarize_lines(run: Run, documents: list[str], *, first_line: int = 1) -> list[str]:
    """One summary per document, decoded with the run's own search options (beam, length
    bounds, repeat blocking)."""
    task = capability(run, Summarizes, "summarize")
    return task.translate(run.model, documents, task.search_options(), first_line=first_line)


def classify_lines(run: Run, lines: list[str]) -> list[tuple[str, float]]:
    task = capability(run, Classifies, "classify")
    return task.classify(run.model, lines) if lines else []


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
    "document_of",
    "evaluate_run",
    "generate_text",
    "open_run",
    "stream_text",
    "summarize_lines",
    "translate_lines",
]
