"""A trained run as a Hugging Face model folder: `MarianMTModel` or `GPT2LMHeadModel`.

The weights are mapped by aiayn.interop (the exported model computes the same logits); a run
with a BPE tokenizer also gets the tokenizer files, so the folder turns text into text on its
own. A run whose model the format cannot express is refused naming what does not map.
"""

from __future__ import annotations

from pathlib import Path

from aiayn.app.runs import Run
from aiayn.errors import AiaynError
from aiayn.models import DecoderOnlyLM, EncoderDecoder

EXPORTS: tuple[str, ...] = ("hf-marian", "hf-gpt2")
_NEEDS = {
    "hf-marian": (EncoderDecoder, "an encoder-decoder (translation, summarisation) run"),
    "hf-gpt2": (DecoderOnlyLM, "a decoder-only language-model run"),
}


def _tokenizer_json(run: Run) -> Path | None:
    path = run.directory / "tokenizer" / "tokenizer.json"
    return path if path.is_file() else None


def export_run(run: Run, to: str, directory: Path) -> Path:
    """Write `run`'s model as the Hugging Face format `to` (one of EXPORTS) into `directory`."""
    if to not in _NEEDS:
        raise AiaynError(f"--to must be one of {', '.join(EXPORTS)}, got {to!r}")
    kind, needs = _NEEDS[to]
    if not isinstance(run.model, kind):
        raise AiaynError(
            f"{run.directory} is a {run.task.name!r} run ({type(run.model).__name__}); "
            f"--to {to} needs {needs}"
        )
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise AiaynError(f"{directory} exists and is not empty: choose a new folder")
    model = run.model.cpu()
    if to == "hf-marian":
        from aiayn.interop.hf_marian import save_marian

        return save_marian(
            model,
            directory,
            tokenizer_json=_tokenizer_json(run),
            bos_id=run.task.bos_id,
            eos_id=run.task.eos_id,
        )
    from aiayn.interop.hf_gpt2 import save_gpt2

    return save_gpt2(model, directory, tokenizer_json=_tokenizer_json(run), eos_id=run.task.eos_id)


__all__ = ["EXPORTS", "export_run"]
