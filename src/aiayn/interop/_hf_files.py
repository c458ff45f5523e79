"""What the exports share: importing `transformers` on demand, refusing the settings no
Hugging Face or torch.nn model has, and writing an aiayn BPE tokenizer (its tokenizer.json) as
the files `PreTrainedTokenizerFast.from_pretrained` reads.

`transformers` is imported inside the functions that need it, so that `import aiayn.interop`
stays fast and works without it installed.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from types import ModuleType

from aiayn.errors import AiaynError
from aiayn.tokenizers.base import BOS, EOS, PAD, UNK


def require_transformers(
    purpose: str = "exporting to Hugging Face", extra: str = "hf"
) -> ModuleType:
    """The `transformers` module, offline (aiayn never fetches from the hub at run time), or an
    AiaynError that says which extra installs it."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        transformers = importlib.import_module("transformers")
    except ModuleNotFoundError:
        raise AiaynError(
            f'{purpose} needs the transformers package: pip install "aiayn[{extra}]"'
        ) from None
    transformers.logging.set_verbosity_error()  # e.g. "newly initialized classifier" is expected
    return transformers


# The ablation settings of ModelConfig (field, the paper's value, what the target has instead):
# neither a Hugging Face architecture nor torch.nn's layers compute them, so an export refuses
# them by name.
_ABLATIONS: tuple[tuple[str, object, str], ...] = (
    ("attention_score", "scaled-dot", "its attention is scaled dot-product"),
    ("share_layers", False, "its layers do not share weights"),
    ("residual", True, "its sub-layers have residual connections"),
    ("causal", True, "its decoder self-attention is causal"),
)


def refusal(field: str, value: object, target: str, why: str) -> AiaynError:
    """The one-line error of a setting that `target` (Marian, GPT-2, torch.nn) cannot express."""
    return AiaynError(f"{field}={value!r} cannot be exported to {target}: {why}")


def refuse_ablations(config: object, target: str) -> None:
    """Raise `refusal` for the first ablation setting of `config` that is not the paper's."""
    for field, paper, why in _ABLATIONS:
        value = getattr(config, field)
        if value != paper:
            raise refusal(field, value, target, why)


def save_tokenizer(
    tokenizer_json: str | Path, directory: Path, *, model_max_length: int, append_eos: bool
) -> None:
    """Write the tokenizer files of a Hugging Face model folder from an aiayn tokenizer.json.

    aiayn's BPE tokenizers put <pad>, <unk>, <bos>, <eos> at ids 0..3 and add no special token
    when encoding; the data pipeline frames sequences itself. `append_eos=True` makes the
    Hugging Face tokenizer end every text with <eos>, as aiayn's translation task ends every
    source sentence.
    """
    transformers = require_transformers()
    from tokenizers import Tokenizer, processors

    path = Path(tokenizer_json)
    try:
        tok = Tokenizer.from_file(str(path))
    except Exception as error:  # tokenizers raises a bare Exception for a bad file
        raise AiaynError(f"cannot read tokenizer {path}: {error}") from None
    for special in (PAD, UNK, BOS, EOS):
        if tok.token_to_id(special) is None:
            raise AiaynError(f"tokenizer {path} has no {special!r} token")
    if append_eos:
        eos = (EOS, tok.token_to_id(EOS))
        tok.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS}", pair=f"$A {EOS} $B {EOS}", special_tokens=[eos]
        )
    fast = transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token=PAD,
        unk_token=UNK,
        bos_token=BOS,
        eos_token=EOS,
        model_max_length=model_max_length,
    )
    fast.save_pretrained(str(directory))
