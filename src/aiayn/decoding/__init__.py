"""Turning a trained model's logits into sequences: greedy decoding and beam search for the
encoder-decoder (section 6.1), sampling for the language model. All of them decode a whole batch
at once with the KV cache, under `torch.inference_mode()`, in whatever mode the model is in
(call `model.eval()` first). How to decode is one options object: `SearchOptions` for an
encoder-decoder, `SamplingOptions` for a language model."""

from aiayn.decoding.beam import (
    Hypothesis,
    beam_decode,
    beam_search,
    decode,
    length_penalty,
    sequence_log_probs,
)
from aiayn.decoding.greedy import GreedyOutput, greedy_decode, greedy_decode_with_logits
from aiayn.decoding.options import SamplingOptions, SearchOptions
from aiayn.decoding.sampling import (
    GenerationOutput,
    filter_logits,
    generate,
    generate_with_logits,
    sample_next_token,
)

__all__ = [
    "GenerationOutput",
    "GreedyOutput",
    "Hypothesis",
    "SamplingOptions",
    "SearchOptions",
    "beam_decode",
    "beam_search",
    "decode",
    "filter_logits",
    "generate",
    "generate_with_logits",
    "greedy_decode",
    "greedy_decode_with_logits",
    "length_penalty",
    "sample_next_token",
    "sequence_log_probs",
]
