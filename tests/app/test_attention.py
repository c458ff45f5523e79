"""Drawing a run's attention: the kind chosen (or the task's default), every layer and head or the
ones asked for, titles with real layer numbers, and one-line refusals of what does not exist."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiayn.app import attention as attention_app
from aiayn.app.attention import (
    attention_of,
    attention_views,
    draw_attention,
    resolve_kind,
    written_view,
)
from aiayn.app.use import open_run
from aiayn.errors import AiaynError

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def reverse(toy_runs):
    return open_run(toy_runs / "reverse", device="cpu")


@pytest.fixture(scope="module")
def reverse_lm(toy_runs):
    return open_run(toy_runs / "reverse-lm", device="cpu")


@pytest.fixture
def drawn(monkeypatch):
    """The arguments attention_grid was called with (the PNG is not drawn)."""
    calls: list[dict] = []

    def grid(weights, **kwargs):
        calls.append({"weights": weights, **kwargs})
        return kwargs["out"]

    monkeypatch.setattr(attention_app, "attention_grid", grid)
    return calls


def test_the_default_is_every_layer_and_head_of_the_task_s_first_kind(reverse, drawn, tmp_path):
    answer, out = draw_attention(reverse, "3 1 4", tmp_path / "a.png")
    (call,) = drawn
    L, H = reverse.model_config.n_layers, reverse.model_config.n_heads
    assert call["layers"] == list(range(L)) and call["heads"] == list(range(H))
    assert call["weights"].shape[:2] == (L, H)
    assert call["title"] == f"encoder-decoder attention, layers 0-{L - 1}"
    assert call["key_tokens"] == ["3", "1", "4"]
    assert out == tmp_path / "a.png" and isinstance(answer, str)


def test_a_negative_layer_is_titled_with_its_real_number(reverse, drawn, tmp_path):
    L = reverse.model_config.n_layers
    draw_attention(reverse, "3 1 4", tmp_path / "a.png", kind="encoder", layer=-1, head=1)
    call = drawn[0]
    assert call["layers"] == [L - 1] and call["heads"] == [1]
    assert call["title"] == f"encoder self-attention, layer {L - 1}, head 1"
    assert "-1" not in call["title"]
    draw_attention(reverse, "3 1 4", tmp_path / "b.png", kind="decoder", average=True)
    assert drawn[1]["heads"] is None and drawn[1]["weights"].shape[1] == 1
    assert drawn[1]["title"].endswith("mean over heads")


def test_a_real_png_for_each_kind(reverse, reverse_lm, tmp_path):
    for run, kind in (
        (reverse, "cross"),
        (reverse, "encoder"),
        (reverse, "decoder"),
        (reverse_lm, "self"),
    ):
        _, out = draw_attention(run, "3 1 4", tmp_path / f"{kind}.png", kind=kind)
        assert out.read_bytes()[:8] == PNG_MAGIC


def test_kinds_a_model_lacks_and_numbers_out_of_range_are_refused(reverse, reverse_lm, tmp_path):
    png = Path(tmp_path / "x.png")
    with pytest.raises(AiaynError, match="has no cross attention; it has: decoder"):
        draw_attention(reverse_lm, "1 2", png, kind="cross")
    with pytest.raises(AiaynError, match="ask for --kind encoder or --kind decoder"):
        resolve_kind(reverse.task, "self")
    assert resolve_kind(reverse_lm.task, "self") == "decoder"
    with pytest.raises(AiaynError, match=r"--layer must be in \[-2, 1\] .* got 2"):
        draw_attention(reverse, "1 2", png, layer=2)
    with pytest.raises(AiaynError, match=r"--head must be in"):
        draw_attention(reverse, "1 2", png, head=-9)
    with pytest.raises(AiaynError, match="leave out --head"):
        draw_attention(reverse, "1 2", png, head=0, average=True)
    assert not png.exists()


def test_views_for_a_page_hold_every_kind(reverse):
    answer, kind, amap = attention_of(reverse, "5 6")
    assert kind == "cross"
    text, views = attention_views(reverse, "5 6")
    assert text == answer
    assert [v.title.split(":")[0] for v in views] == [
        "encoder-decoder attention",
        "encoder self-attention",
        "decoder masked self-attention",
    ]
    assert views[0].weights == amap.weights.tolist()


def test_what_a_language_model_wrote_is_drawn_and_only_for_a_language_model(reverse, reverse_lm):
    ids = reverse_lm.task.encode_prompt("1 2 3")
    view = written_view(reverse_lm, ids, title="1 2 3")
    assert view.title.endswith(": 1 2 3") and view.query_tokens == ["1", "2", "3"]
    with pytest.raises(AiaynError, match="not a language model"):
        written_view(reverse, ids, title="x")
