"""Every architecture's attention through DrawsAttention: the kinds it has, their shapes, rows
that are distributions, the causal mask, and tokens labelled by the tokenizer's pieces."""

from __future__ import annotations

import pytest
import torch

from aiayn.app.runs import load_run
from aiayn.errors import AiaynError
from aiayn.tasks import DrawsAttention, get_task

CPU = torch.device("cpu")


def _rows_sum_to_one(weights: torch.Tensor) -> None:
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:-1]))


def test_every_task_draws_attention_and_names_its_kinds():
    for name in ("reverse", "copy", "multi30k", "dialogsum"):
        assert get_task(name).attention_kinds == ("cross", "encoder", "decoder")
    assert get_task("reverse-lm").attention_kinds == ("decoder",)
    assert get_task("shakespeare").attention_kinds == ("decoder",)
    assert get_task("sst2").attention_kinds == ("encoder",)
    assert all(isinstance(get_task(n), DrawsAttention) for n in ("copy", "reverse-lm", "sst2"))


def test_an_encoder_decoder_has_three_kinds_over_source_and_output(toy_runs):
    run = load_run(toy_runs / "reverse", device=CPU)
    answer, maps = run.task.attention(run.model, "3 1 4")
    L, H = run.model_config.n_layers, run.model_config.n_heads
    source = maps["encoder"].key_tokens
    assert source == ["3", "1", "4"] == maps["cross"].key_tokens
    T = len(maps["cross"].query_tokens)
    assert maps["cross"].query_tokens[-1] == "<eos>"  # the last query predicts <eos>
    assert maps["decoder"].query_tokens == ["<bos>", *maps["cross"].query_tokens[:-1]]
    digits = [t for t in maps["cross"].query_tokens if t.isdigit()]
    assert answer == " ".join(digits)  # the output, as its tokens spell it
    assert maps["encoder"].weights.shape == (L, H, 3, 3)  # toy sources have no <eos>
    assert maps["decoder"].weights.shape == (L, H, T, T)
    assert maps["cross"].weights.shape == (L, H, T, 3)
    for m in maps.values():
        _rows_sum_to_one(m.weights)
    future = torch.ones(T, T, dtype=torch.bool).triu(1)
    assert torch.all(maps["decoder"].weights[..., future] == 0)  # masked self-attention


def test_a_language_model_attends_over_its_text_causally(toy_runs):
    run = load_run(toy_runs / "reverse-lm", device=CPU)
    answer, maps = run.task.attention(run.model, "5 6 7 8")
    assert answer == "" and set(maps) == {"decoder"}
    m = maps["decoder"]
    assert m.query_tokens == m.key_tokens == ["5", "6", "7", "8"]
    _rows_sum_to_one(m.weights)
    assert torch.all(m.weights[..., torch.ones(4, 4, dtype=torch.bool).triu(1)] == 0)


def test_a_language_model_s_ids_are_drawn_over_the_window_it_saw(toy_runs):
    run = load_run(toy_runs / "reverse-lm", device=CPU)
    task, max_len = run.task, run.model_config.max_len
    ids = task.encode_prompt("5 6 7 8")
    _, maps = task.attention(run.model, "5 6 7 8")
    assert torch.equal(task.attention_of_ids(run.model, ids).weights, maps["decoder"].weights)
    longer = task.encode_prompt(" ".join(str(i % 10) for i in range(max_len + 5)))
    window = task.attention_of_ids(run.model, longer)
    assert window.weights.shape[-1] == max_len
    assert window.key_tokens == [task.token_piece(i) for i in longer[-max_len:]]
    with pytest.raises(AiaynError, match="the text is empty"):
        task.attention_of_ids(run.model, [])


def test_bpe_pieces_label_the_axes(text_runs):
    run = load_run(text_runs / "translation", device=CPU)
    _, maps = run.task.attention(run.model, "der hund läuft")
    pieces = maps["encoder"].key_tokens
    assert pieces[-1] == "<eos>" and "▁" not in "".join(pieces)
    assert "".join(pieces[:-1]).replace("·", " ") == "der hund läuft"


def test_a_classifier_shows_its_self_attention_and_label(sst2_run):
    run = load_run(sst2_run.run_dir, device=CPU)
    answer, maps = run.task.attention(run.model, "a gorgeous movie")
    assert answer.split()[0] in ("negative", "positive")
    m = maps["encoder"]
    assert m.query_tokens == m.key_tokens and m.query_tokens[0] == "<bos>"
    _rows_sum_to_one(m.weights)


def test_empty_and_over_long_inputs_are_refused(toy_runs):
    run = load_run(toy_runs / "reverse", device=CPU)
    with pytest.raises(AiaynError, match="the source is empty"):
        run.task.attention(run.model, "")
    lm = load_run(toy_runs / "reverse-lm", device=CPU)
    max_len = lm.model_config.max_len
    with pytest.raises(AiaynError, match=f"more than the model's maximum {max_len}"):
        lm.task.attention(lm.model, " ".join(["1"] * (max_len + 1)))
