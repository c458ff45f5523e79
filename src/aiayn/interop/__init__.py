"""Weight import and export with reference implementations: torch.nn's Transformer modules
(`aiayn.interop.torch_nn`) and Hugging Face BERT checkpoints (`aiayn.interop.hf_bert`)."""

from aiayn.interop.hf_bert import (
    LoadReport,
    bert_model_config,
    load_bert_weights,
    load_pretrained_classifier,
    minilm_dir,
)
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
    "from_torch_key_padding_mask",
    "load_bert_weights",
    "load_from_torch",
    "load_pretrained_classifier",
    "load_torch_state_dict",
    "mha_to_torch",
    "minilm_dir",
    "to_torch_attn_mask",
    "to_torch_key_padding_mask",
    "torch_state_dict",
]
