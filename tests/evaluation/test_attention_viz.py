from pathlib import Path

import pytest
import torch

from aiayn import build_model, model_preset
from aiayn.evaluation import attention_heatmap, cross_attention_weights
from aiayn.evaluation.attention_viz import attention_grid, model_attention, readable_piece

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _is_png(path: Path) -> bool:
    return path.is_file() and path.read_bytes()[:8] == PNG_MAGIC


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model(model_preset("tiny", vocab_size=20))


def test_cross_attention_weights_are_distributions(model):
    src = torch.tensor([[3, 4, 5, 6, 7]])  # (1, S=5), no padding (pad_id 0)
    tgt = torch.tensor([[1, 8, 9]])  # (1, T=3)
    model.train()
    w = cross_attention_weights(model, src, tgt)
    assert w.shape == (model.config.n_heads, 3, 5)
    torch.testing.assert_close(w.sum(dim=-1), torch.ones(model.config.n_heads, 3))
    assert model.training  # training mode restored
    model.eval()
    w0 = cross_attention_weights(model, src, tgt, layer=0)
    assert not model.training
    assert w0.shape == w.shape
    assert not torch.equal(w0, w)  # a different layer's weights


def test_cross_attention_weights_ignore_source_padding(model):
    src = torch.tensor([[3, 4, 5, 0, 0]])
    tgt = torch.tensor([[1, 8]])
    w = cross_attention_weights(model, src, tgt)
    assert torch.all(w[..., 3:] == 0)
    torch.testing.assert_close(w.sum(dim=-1), torch.ones(w.shape[:2]))


def test_cross_attention_weights_bad_input(model):
    with pytest.raises(ValueError, match="src"):
        cross_attention_weights(model, torch.ones(2, 3, dtype=torch.long), torch.ones(1, 2))
    with pytest.raises(ValueError, match="layer"):
        cross_attention_weights(
            model, torch.ones(1, 3, dtype=torch.long), torch.ones(1, 2, dtype=torch.long), layer=5
        )


def test_heatmap_per_head_and_averaged(model, tmp_path):
    src = torch.tensor([[3, 4, 5, 6]])
    tgt = torch.tensor([[1, 8, 9]])
    w = cross_attention_weights(model, src, tgt)
    src_tokens = ["▁le", "▁chat", "▁dort", "</s>"]
    tgt_tokens = ["<s>", "▁the", "▁cat"]
    out = attention_heatmap(
        w, src_tokens=src_tokens, tgt_tokens=tgt_tokens, out=tmp_path / "heads.png", title="x"
    )
    assert out == tmp_path / "heads.png" and _is_png(out)
    out = attention_heatmap(
        w,
        src_tokens=src_tokens,
        tgt_tokens=tgt_tokens,
        out=tmp_path / "avg.png",
        average_heads=True,
    )
    assert _is_png(out)


def test_heatmap_two_dimensional(tmp_path):
    w = torch.softmax(torch.randn(2, 3), dim=-1)
    out = attention_heatmap(
        w, src_tokens=["a", "b", "c"], tgt_tokens=["x", "y"], out=tmp_path / "a.png"
    )
    assert _is_png(out)


def test_heatmap_token_count_mismatch(tmp_path):
    w = torch.softmax(torch.randn(2, 3, 4), dim=-1)
    with pytest.raises(ValueError, match="src_tokens"):
        attention_heatmap(w, src_tokens=["a"] * 3, tgt_tokens=["b"] * 3, out=tmp_path / "a.png")
    with pytest.raises(ValueError, match="tgt_tokens"):
        attention_heatmap(w, src_tokens=["a"] * 4, tgt_tokens=["b"] * 2, out=tmp_path / "a.png")
    with pytest.raises(ValueError, match="weights"):
        attention_heatmap(
            torch.rand(1, 2, 3, 4),
            src_tokens=["a"] * 4,
            tgt_tokens=["b"] * 3,
            out=tmp_path / "a.png",
        )
    assert not (tmp_path / "a.png").exists()


def test_model_attention_gives_every_layer_of_every_kind(model):
    src, tgt = torch.tensor([[3, 4, 5, 6]]), torch.tensor([[1, 8, 9]])
    maps = model_attention(model, src, tgt)
    L, H = model.config.n_layers, model.config.n_heads
    assert maps["encoder"].shape == (L, H, 4, 4)
    assert maps["decoder"].shape == (L, H, 3, 3)
    assert maps["cross"].shape == (L, H, 3, 4)
    torch.testing.assert_close(maps["cross"][-1], cross_attention_weights(model, src, tgt))
    with pytest.raises(ValueError, match="needs tgt"):
        model_attention(model, src)
    with pytest.raises(ValueError, match="keeps no attention weights"):
        model_attention(torch.nn.Linear(2, 2), src)


def test_the_grid_has_a_panel_per_layer_and_head_titled_with_real_numbers(model, tmp_path):
    w = torch.full((2, 3, 2, 4), 0.25)
    out = attention_grid(
        w,
        query_tokens=["a", "b"],
        key_tokens=list("wxyz"),
        out=tmp_path / "g.png",
        layers=[0, 5],
        heads=[0, 1, 7],
        title="t",
    )
    assert _is_png(out)
    with pytest.raises(ValueError, match="need 2 layer numbers and 3 head numbers"):
        attention_grid(
            w,
            query_tokens=["a", "b"],
            key_tokens=list("wxyz"),
            out=tmp_path / "h.png",
            layers=[0],
            heads=[0, 1, 7],
        )
    with pytest.raises(ValueError, match="need 2 query_tokens and 4 key_tokens"):
        attention_grid(
            w,
            query_tokens=["a"],
            key_tokens=list("wxyz"),
            out=tmp_path / "h.png",
            layers=[0, 1],
            heads=[0, 1, 2],
        )


def test_readable_pieces_show_spaces_and_line_breaks():
    assert readable_piece("▁the") == "·the"
    assert readable_piece("\n") == "\\n"
    assert readable_piece("") == "·" and readable_piece(": ") == ":·"
