"""Text classification of the user's own files: label names from the training file (or the
`labels` option), held-out splits, the figures of an evaluation, and a short training run from
scratch over three classes that reloads and classifies in input order."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from aiayn.app.runs import load_run
from aiayn.app.train import TrainRequest, train
from aiayn.config import TrainConfig
from aiayn.errors import AiaynError
from aiayn.tasks import get_task

WORDS = {"sport": "goal match team score", "food": "bread soup salt cook", "art": "paint song poem"}


def _rows(n: int, seed: int) -> list[dict[str, str]]:
    g = torch.Generator().manual_seed(seed)
    rows = []
    for i in range(n):
        label = sorted(WORDS)[i % 3]
        words = WORDS[label].split()
        picks = torch.randint(0, len(words), (4,), generator=g).tolist()
        rows.append({"sentence": " ".join(words[j] for j in picks), "topic": label})
    return rows


def _write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["sentence", "topic"])
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("topics")
    train_file = _write_csv(root / "train.csv", _rows(48, 0))
    val_file = root / "val.jsonl"  # another format for the held-out file
    val_file.write_text("".join(json.dumps(r) + "\n" for r in _rows(12, 1)), encoding="utf-8")
    return {
        "train_file": str(train_file),
        "val_file": str(val_file),
        "text_field": "sentence",
        "label_field": "topic",
    }


def test_label_names_are_the_training_files_sorted(files):
    assert get_task("classification", files).label_names() == ["art", "food", "sport"]
    chosen = get_task("classification", {**files, "labels": ["sport", "food", "art"]})
    assert chosen.label_names() == ["sport", "food", "art"]  # the option fixes the order


def test_numeric_labels_sort_as_numbers(tmp_path):
    rows = [{"sentence": f"s {i}", "topic": str(label)} for i, label in enumerate([10, 9, 2, 10])]
    path = _write_csv(tmp_path / "n.csv", rows)
    task = get_task(
        "classification",
        {"train_file": str(path), "text_field": "sentence", "label_field": "topic"},
    )
    assert task.label_names() == ["2", "9", "10"]


def test_one_class_is_not_a_classification(tmp_path):
    path = _write_csv(tmp_path / "one.csv", [{"sentence": "a", "topic": "x"}] * 3)
    task = get_task(
        "classification",
        {"train_file": str(path), "text_field": "sentence", "label_field": "topic"},
    )
    with pytest.raises(AiaynError, match=r"name one class only: \['x'\]"):
        task.label_names()


def test_a_held_out_label_the_run_does_not_know_is_refused(files, tmp_path):
    val = _write_csv(tmp_path / "val.csv", [{"sentence": "paint", "topic": "music"}])
    task = get_task("classification", {**files, "val_file": str(val)})
    with pytest.raises(AiaynError, match=r"val labels \['music'\] are not among the run's labels"):
        task.examples("val")


def test_splits(files):
    task = get_task("classification", files)
    assert [task.held_out(s) for s in ("train", "val", "dev")] == ["train", "val", "val"]
    with pytest.raises(AiaynError, match="no test split .*test_file"):
        task.held_out("test")
    allowed = "unknown split 'eval' for task 'classification': choose one of train, val, dev, test"
    with pytest.raises(AiaynError, match=allowed):
        task.held_out("eval")
    with pytest.raises(AiaynError, match=r"needs --set task\.train_file=FILE"):
        get_task("classification").raw("train")


def test_n_train_and_n_dev_take_the_first_sentences(files):
    task = get_task("classification", {**files, "n_train": 5, "n_dev": 2})
    assert len(task._sentences("train")) == 5 and len(task._sentences("val")) == 2
    assert task._sentences("train")[0][0] == _rows(1, 0)[0]["sentence"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_seq_len": 1}, "max_seq_len must be an integer >= 2"),
        ({"n_train": True}, "task option n_train must be an integer, got True"),
        ({"n_dev": -1}, "task option n_dev must be >= 0, got -1"),
        ({"word_dropout": 1.0}, r"word_dropout must be in \[0, 1\)"),
        ({"labels": "a,b"}, "labels must list two or more names"),
        ({"labels": ["a", "a"]}, "labels must list two or more names"),
        ({"backend": "hf"}, "--backend hf fine-tunes a pretrained model"),
    ],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(AiaynError, match=message):
        get_task("classification", options)


def test_the_recipe_depends_on_the_init():
    scratch, tuned = get_task("classification"), get_task("classification", {"init": "minilm"})
    assert scratch.default_train["lr"] > tuned.default_train["lr"]
    assert scratch.default_model == {"pooling": "mean"} and tuned.default_model["pooler"] is True


def test_score_gives_accuracy_macro_f1_and_each_class(files):
    task = get_task("classification", files)  # art, food, sport
    probs = torch.tensor([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8]])
    labels = torch.tensor([0, 1, 1, 2])
    s = task.score(probs, labels, "val")
    assert s["val_accuracy"] == 0.75
    # art: p 1/2, r 1, f1 2/3; food: p 1, r 1/2, f1 2/3; sport: f1 1
    assert s["val_macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert set(s["val_per_class"]) == {"art", "food", "sport"}
    assert s["val_per_class"]["food"]["support"] == 2
    expected_nll = -torch.log(torch.tensor([0.8, 0.7, 0.3, 0.8])).mean().item()
    assert s["val_loss"] == pytest.approx(expected_nll)
    assert "val_f1" not in s  # the F1 of "the positive class" only for two classes


# ------------------------------------------------------------------------ a short training run
@pytest.fixture(scope="module")
def trained(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "topics"
    sets = [f"{k}={v}" for k, v in files.items()] + [
        "bpe_vocab_size=60", "max_seq_len=16", "batch_tokens=256", "max_steps=4",
        "warmup_steps=1", "eval_every=4", "log_every=2", "d_model=32", "n_heads=2", "d_ff=64",
        "n_layers=1", "precision=fp32",  # fp32: compared below with an fp32 forward by hand
    ]  # fmt: skip
    return train(TrainRequest(task="classification", out=out, device="cpu", sets=sets))


def _probabilities_by_hand(task, model, lines: list[str]) -> torch.Tensor:
    """(N, C) softmax of the model's logits for each line on its own, in float64."""
    rows = []
    with torch.no_grad():
        for ids in task.encode(lines):
            tokens = torch.tensor([ids])  # (1, T)
            rows.append(model(tokens, mask=tokens != task.pad_id).double().softmax(-1)[0])
    return torch.stack(rows)


def _macro_f1(predicted: list[int], gold: list[int], n_classes: int) -> float:
    scores = []
    for c in range(n_classes):
        tp = sum(p == c and g == c for p, g in zip(predicted, gold, strict=True))
        fp = sum(p == c and g != c for p, g in zip(predicted, gold, strict=True))
        fn = sum(p != c and g == c for p, g in zip(predicted, gold, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / n_classes


def test_a_run_from_scratch_over_three_classes(trained):
    s = trained.summary
    assert s["steps"] == 4 and s["labels"] == ["art", "food", "sport"]
    assert (s["train_sentences"], s["dev_sentences"]) == (48, 12)
    assert set(s["dev_per_class"]) == {"art", "food", "sport"} and "dev_f1" not in s
    assert s["reloaded_model_generates_the_same"] is True
    task, model = trained.task, trained.model.cpu().eval()
    sentences, gold = zip(*task._sentences("val"), strict=True)
    predicted = _probabilities_by_hand(task, model, list(sentences)).argmax(-1).tolist()
    accuracy = sum(p == g for p, g in zip(predicted, gold, strict=True)) / len(gold)
    assert s["dev_accuracy"] == pytest.approx(accuracy)
    assert s["dev_macro_f1"] == pytest.approx(_macro_f1(predicted, list(gold), 3))
    config = json.loads((trained.run_dir / "config.json").read_text())
    assert config["model"]["n_classes"] == 3
    assert config["task_options"]["labels"] == ["art", "food", "sport"]  # kept in the run


def test_the_reloaded_run_classifies_in_input_order(trained):
    run = load_run(trained.run_dir, device=torch.device("cpu"))
    lines = ["paint song", "goal team score match", "", "soup"]
    got = run.task.classify(run.model, lines)
    assert got == trained.task.classify(trained.model.cpu(), lines)
    probs = _probabilities_by_hand(run.task, run.model, lines)
    torch.testing.assert_close(probs.sum(-1), torch.ones(4, dtype=torch.float64))
    names = ["art", "food", "sport"]
    assert [label for label, _ in got] == [names[i] for i in probs.argmax(-1).tolist()]
    assert [p for _, p in got] == pytest.approx(probs.amax(-1).tolist(), abs=1e-6)
    one_by_one = [run.task.classify(run.model, [line])[0] for line in lines]
    assert [label for label, _ in one_by_one] == [label for label, _ in got]
    assert run.task.classify(run.model, []) == []
    assert run.task.evaluate(run.model, "dev")["dev_accuracy"] == pytest.approx(
        trained.summary["dev_accuracy"]
    )


def test_word_dropout_hides_tokens_in_training_only():
    """The mask the model sees: pads always hidden; in training each other token but the first
    is hidden with probability word_dropout; in eval mode nothing is."""
    seen = []

    class Spy(torch.nn.Module):
        def forward(self, tokens, mask):
            seen.append(mask.clone())
            return torch.zeros(tokens.size(0), 2, requires_grad=True)

    task = get_task("classification", {"word_dropout": 0.5})
    task.pad_id = 0  # set by the tokenizer in a real run
    loss_fn = task.loss_fn(TrainConfig(label_smoothing=0.0))
    tokens = torch.randint(5, 50, (64, 20))
    tokens[:, 15:] = task.pad_id
    batch = {"tokens": tokens, "labels": torch.zeros(64, dtype=torch.long)}
    spy = Spy()
    torch.manual_seed(0)
    loss_fn(spy.train(), batch)
    loss_fn(spy.eval(), batch)
    trained, evaluated = seen
    assert torch.equal(evaluated, tokens != task.pad_id)
    assert trained[:, 0].all() and not trained[:, 15:].any()
    hidden = 1 - trained[:, 1:15].float().mean().item()
    assert 0.4 < hidden < 0.6  # about half of 64 x 14 tokens
