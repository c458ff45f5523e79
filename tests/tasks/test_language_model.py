"""The Shakespeare language-model task: splits, blocks, baselines, the run directory, the CLI."""

import json
import math
from collections import Counter

import pytest
import torch

from aiayn.app.runs import load_run
from aiayn.app.train import TrainRequest, train
from aiayn.cli import main
from aiayn.config import TrainConfig
from aiayn.errors import AiaynError
from aiayn.tasks import get_task
from aiayn.tasks.language_model import unigram_log_probs, unigram_perplexity
from aiayn.tokenizers import WordTokenizer, load_tokenizer

# An lm-tiny sized model, a few steps: seconds on two cores.
FAST = [
    "d_model=32",
    "n_heads=2",
    "d_ff=64",
    "n_layers=1",
    "context=32",
    "batch_size=8",
    "max_steps=20",
    "warmup_steps=5",
    "eval_every=20",
    "log_every=10",
    "checkpoint_every=20",
    # fp32, not "auto" (bf16 on a CPU that has it): the summary's figures are compared with a
    # fresh fp32 scoring of the saved model, to a part in a million
    "precision=fp32",
]


@pytest.fixture
def text_file(tmp_path):
    """One short work of the complete works as a plain-text file (contiguous splits)."""
    from aiayn.data import complete_works

    title, text = min(complete_works(), key=lambda work: len(work[1]))
    path = tmp_path / "work.txt"
    path.write_text(text[:60_000], encoding="utf-8")
    return path


def _train(out, data, sets=()):
    request = TrainRequest(
        task="shakespeare",
        preset="lm-tiny",
        out=out,
        device="cpu",
        data_file=data,
        sets=[*FAST, *sets],
    )
    return train(request)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from aiayn.data import complete_works

    root = tmp_path_factory.mktemp("lm")
    _, text = min(complete_works(), key=lambda work: len(work[1]))
    data = root / "work.txt"
    data.write_text(text[:60_000], encoding="utf-8")
    return _train(root / "run", data), data


def _perplexity_by_hand(model, ids: torch.Tensor, context: int) -> float:
    """exp(summed NLL / predicted tokens) over consecutive blocks of `context` tokens, from the
    model's log-softmax in float64: no aiayn scoring code."""
    L = min(context, ids.numel() - 1)
    n = (ids.numel() - 1) // L
    inputs, targets = ids[: n * L].view(n, L), ids[1 : n * L + 1].view(n, L)
    with torch.no_grad():
        log_probs = model(inputs).double().log_softmax(-1)  # (n, L, V)
    nll = -log_probs.gather(-1, targets.unsqueeze(-1)).sum().item()
    return math.exp(nll / targets.numel())


def _unigram_perplexity_by_hand(train_ids: list[int], ids: list[int], vocab_size: int) -> float:
    counts = Counter(train_ids)
    total = sum(math.log((counts[i] + 1) / (len(train_ids) + vocab_size)) for i in ids)
    return math.exp(-total / len(ids))


def test_summary_perplexities_are_those_computed_by_hand(trained):
    result, _ = trained
    s = json.loads((result.run_dir / "summary.json").read_text())
    run = load_run(result.run_dir, device=torch.device("cpu"))
    task = result.task
    train_ids = task.split_ids("train").tolist()
    for split in ("val", "test"):
        ids = task.split_ids(split)
        want = _perplexity_by_hand(run.model, ids, task.opts["context"])
        assert s[f"{split}_perplexity"] == pytest.approx(want, rel=1e-5)
        want = _unigram_perplexity_by_hand(train_ids, ids.tolist(), s["vocab_size"])
        assert s[f"unigram_{split}_perplexity"] == pytest.approx(want, rel=1e-9)
        untrained = task._untrained_model(result.model)
        want = _perplexity_by_hand(untrained, ids, task.opts["context"])
        assert s[f"untrained_{split}_perplexity"] == pytest.approx(want, rel=1e-5)
    assert s["tokenizer"] == "word"
    assert s["reloaded_model_generates_the_same"] is True


def test_summary_figures_equal_a_fresh_scoring_of_the_saved_and_untrained_models(trained):
    # The summary reuses the trainer's last evaluation and the pre-training baseline rather than
    # scoring the validation split again: they must be the figures a fresh scoring gives.
    result, _ = trained
    s = json.loads((result.run_dir / "summary.json").read_text())
    run = load_run(result.run_dir, device="cpu")
    nll, n = run.task.score(run.model.eval(), "val")
    assert s["val_loss"] == pytest.approx(nll / n, rel=1e-6)
    nll, n = result.task.score(result.task._untrained_model(result.model), "val")
    assert s["untrained_val_perplexity"] == pytest.approx(math.exp(nll / n), rel=1e-6)


@pytest.mark.parametrize("tokenizer", ["bpe", "char"])
def test_other_tokenizers_train_save_and_reload(tokenizer, text_file, tmp_path):
    extra = ["bpe_vocab_size=300"] if tokenizer == "bpe" else ["min_freq=1"]  # all in vocabulary
    result = _train(tmp_path / "run", text_file, [f"tokenizer={tokenizer}", *extra])
    s = json.loads((result.run_dir / "summary.json").read_text())
    assert s["tokenizer"] == tokenizer and s["reloaded_model_generates_the_same"] is True
    assert s["val_perplexity"] < s["untrained_val_perplexity"]
    tok = load_tokenizer(result.run_dir / "tokenizer")
    text = result.task.split_texts()["train"][:500]  # in-vocabulary text round-trips exactly
    assert tok.encode(text) == result.task.tokenizer.encode(text)
    assert tok.decode(tok.encode(text)) == text


def test_word_tokenizer_round_trips_through_the_run_directory(trained):
    result, data = trained
    tok = load_tokenizer(result.run_dir / "tokenizer")
    assert isinstance(tok, WordTokenizer)
    assert tok.vocab_size == result.task.tokenizer.vocab_size
    line = "ROMEO: What, shall this speech be spoke for our excuse?"
    assert tok.encode(line) == result.task.tokenizer.encode(line)
    # min_freq=2: the rarer words of the training text are <unk>; every other piece comes back
    train_text = result.task.split_texts()["train"][:2000]
    pieces = tok.pieces(train_text)
    rare = [p for p in pieces if tok.token_to_id(p) is None]
    assert rare, "the excerpt has no out-of-vocabulary word: the check below would be vacuous"
    expected = "".join("<unk>" if tok.token_to_id(p) is None else p for p in pieces)
    assert tok.decode(tok.encode(train_text)) == expected


def test_same_seed_generates_the_same_sample_through_the_cli(trained, capsys):
    result, _ = trained
    args = ["generate", str(result.run_dir), "--prompt", "ROMEO:", "--max-new-tokens", "40"]
    args += ["--temperature", "0.8", "--top-k", "50", "--device", "cpu"]
    samples = []
    for seed in (7, 7, 8):
        assert main([*args, "--seed", str(seed)]) == 0
        samples.append(capsys.readouterr().out)
    assert samples[0] == samples[1]
    assert samples[0].strip()
    assert samples[0] != samples[2]  # the seed matters (40 sampled words)


def test_cli_samples_never_contain_unk_unless_allowed(trained, monkeypatch):
    import aiayn.app.use

    result, _ = trained
    unk = result.task.tokenizer.unk_id
    calls = []

    def spy(model, prompt, options, **kwargs):
        tokens = real(model, prompt, options, **kwargs)
        calls.append((tuple(options.suppress_ids), tokens[0, prompt.size(1) :].tolist()))
        return tokens

    real = aiayn.app.use.generate
    monkeypatch.setattr(aiayn.app.use, "generate", spy)
    args = ["generate", str(result.run_dir), "--prompt", "ROMEO:", "--device", "cpu"]
    assert main([*args, "--max-new-tokens", "60"]) == 0
    assert main([*args, "--max-new-tokens", "5", "--allow-unk"]) == 0
    assert [suppressed for suppressed, _ in calls] == [(unk,), ()]
    assert unk not in calls[0][1] and len(calls[0][1]) == 60


def test_a_prompt_ending_between_words_is_healed(trained, capsys):
    """ "WORD." ends in "." alone, which the text has as ".\n" or ". ": the piece comes off and
    the first new token is one of those that start with it; the prompt stays in the text."""
    result, _ = trained
    task, tok = result.task, result.task.tokenizer
    word = next(t for t in tok.tokens[4:] if t.isalpha())  # the commonest word
    kept, first = task.heal_prompt(f"{word} {word}.")
    assert kept == f"{word} {word}"
    assert first == [i for i, piece in enumerate(tok.tokens) if piece.startswith(".")]
    assert len(first) >= 1 and tok.id_to_token(first[0]) != "."  # "." alone is rare or absent
    for prompt in (f"{word} {word}", ".", f"{word}~#~"):  # ends in a word / nothing left /
        assert task.heal_prompt(prompt) == (prompt, None)  # no known piece goes on from it
    args = ["generate", str(result.run_dir), "--prompt", f"{word}.", "--device", "cpu"]
    assert main([*args, "--max-new-tokens", "20", "--seed", "3"]) == 0
    assert capsys.readouterr().out.startswith(f"{word}.")
    rare = "Zyxwv"  # <unk> to the model, printed as typed
    assert main([*args[:3], f"{rare} {word}", *args[4:], "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out.startswith(f"{rare} {word}")


def test_training_blocks_never_share_a_token_position(text_file):
    task = get_task("shakespeare", {"data": str(text_file), "context": 16})
    task.prepare(text_file.parent / "run", TrainConfig(batch_size=5))
    n = task.split_ids("train").numel()
    task._ids["train"] = torch.arange(n)  # each token's id is its position in the stream
    source = task.train_source(TrainConfig(batch_size=5))
    for epoch in (0, 1):
        batches = source.epoch_batches(epoch)
        inputs = torch.cat([b["inputs"] for b in batches]).flatten()
        targets = torch.cat([b["targets"] for b in batches])
        assert inputs.unique().numel() == inputs.numel()  # no position in two sequences
        assert torch.equal(targets.flatten(), inputs + 1)  # targets: the next position
        assert inputs.numel() >= n - 1 - 16 * (5 + 1)  # all but the partial block and batch
    rows = torch.cat([b["inputs"] for b in source.epoch_batches(0)])
    assert torch.all(rows[:, 1:] - rows[:, :-1] == 1)  # each sequence is consecutive text


def test_held_out_works_are_whole_works_never_in_training():
    from aiayn.data import complete_works

    task = get_task("shakespeare", {"n_works": 6, "val_fraction": 0.15, "test_fraction": 0.15})
    texts = task.split_texts()
    assert texts["val"] and texts["test"]
    for _, work in complete_works()[:6]:
        middle = work[len(work) // 2 : len(work) // 2 + 300]
        assert sum(middle in texts[split] for split in ("train", "val", "test")) == 1


def test_unigram_baseline_on_a_hand_made_example():
    # vocabulary of 4, training counts [3, 1, 0, 0] -> add-one: [4, 2, 1, 1] / (4 + 4)
    log_probs = unigram_log_probs(torch.tensor([0, 0, 0, 1]), vocab_size=4)
    torch.testing.assert_close(log_probs.exp(), torch.tensor([0.5, 0.25, 0.125, 0.125]).double())
    # stream [0, 2]: mean NLL = -(log 0.5 + log 0.125) / 2 -> perplexity sqrt(1 / (0.5 * 0.125))
    assert unigram_perplexity(log_probs, torch.tensor([0, 2])) == pytest.approx(4.0)


def test_bad_options_raise_a_clear_error():
    with pytest.raises(AiaynError, match="tokenizer must be one of"):
        get_task("shakespeare", {"tokenizer": "bytes"})
    with pytest.raises(AiaynError, match="context must be >= 1, got 0"):
        get_task("shakespeare", {"context": 0})


def test_default_recipes_word_level_and_nanogpt_char_level(tmp_path):
    """`aiayn train shakespeare` defaults to the measured word-level recipe (lm-medium, 3,600
    steps); `tinyshakespeare-char` keeps nanoGPT's model and schedule."""
    from aiayn.app.train import resolve

    for task, preset, p_drop, steps, warmup in (
        ("shakespeare", "lm-medium", None, 3600, 200),
        ("tinyshakespeare-char", "lm-small", 0.1, 2000, 100),
    ):
        request = TrainRequest(task=task, out=tmp_path / task, device="cpu")
        _, _, _, train_config, model_dict = resolve(request)
        assert model_dict["preset"] == preset
        assert model_dict.get("p_drop") == p_drop  # None: the preset's own (0.2)
        assert (train_config.max_steps, train_config.warmup_steps) == (steps, warmup)
