"""Weight import and export with reference implementations: torch.nn's Transformer modules
(`aiayn.interop.torch_nn`), Hugging Face BERT checkpoints (`aiayn.interop.hf_bert`), and
exports to Hugging Face's MarianMTModel (`aiayn.interop.hf_marian`) and GPT-2
(`aiayn.interop.hf_gpt2`)."""

from aiayn.interop.hf_bert import (
    LoadReport,
    bert_model_config,
    load_bert_weights,
    load_pretrained_classifier,
    minilm_dir,
)
from aiayn.interop.hf_gpt2 import gpt2_config, save_gpt2, to_gpt2
from aiayn.interop.hf_marian import from_marian, marian_config, save_marian, to_marian
from aiayn.interop.torch_nn import (
    decoder_to_torch,
    encoder_to_torch,
    from_torch_key_padding_mask,
    load_from_torch,
    load_torch_state_dict,
    mha_to_torch,
    to_torch_attn_mask,
    to_torch_key_padding_mask,
    torch_state_dict,
)

__all__ = [
    "LoadReport",
    "bert_model_config",
    "decoder_to_torch",
    "encoder_to_torch",
    "from_marian",
    "from_torch_key_padding_mask",
    "gpt2_config",
    "load_bert_weights",
    "load_from_torch",
    "load_pretrained_classifier",
    "load_torch_state_dict",
    "marian_config",
    "mha_to_torch",
    "minilm_dir",
    "save_gpt2",
    "save_marian",
    "to_gpt2",
    "to_marian",
    "to_torch_attn_mask",
    "to_torch_key_padding_mask",
    "torch_state_dict",
]
