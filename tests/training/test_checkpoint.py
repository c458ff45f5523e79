import torch

from aiayn import build_model, model_preset
from aiayn.training.checkpoint import (
    average_checkpoints,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_weights,
    mark_best,
    save_checkpoint,
    save_weights,
)


def _model(seed: int):
    torch.manual_seed(seed)
    return build_model(model_preset("tiny", vocab_size=30))


def test_weights_round_trip_with_tied_embeddings(tmp_path):
    a, b = _model(0), _model(1)
    save_weights(a, tmp_path / "m.safetensors")
    load_weights(b, tmp_path / "m.safetensors")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    # The tie survives loading: the output projection is still the embedding matrix.
    assert b.generator.weight is b.tgt_embed.token.weight


def test_checkpoints_keep_last_k_and_best(tmp_path):
    model = _model(0)
    for step in (1, 2, 3):
        path = save_checkpoint(tmp_path, step=step, model=model, state={"step": step}, keep=2)
        if step == 1:
            mark_best(tmp_path, name=path.name, metric="val_loss", value=1.0, step=1)
    save_checkpoint(tmp_path, step=4, model=model, state={"step": 4}, keep=2)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["step-0000001", "step-0000003", "step-0000004"]
    assert latest_checkpoint(tmp_path).name == "step-0000004"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers
    state = load_checkpoint(tmp_path / "step-0000004", _model(5))
    assert state == {"step": 4}


def test_average_of_checkpoints(tmp_path):
    a, b = _model(0), _model(1)
    save_checkpoint(tmp_path, step=1, model=a, state={}, keep=5)
    save_checkpoint(tmp_path, step=2, model=b, state={}, keep=5)
    c = _model(2)
    average_checkpoints(list_checkpoints(tmp_path), c)
    for name, p in c.state_dict().items():
        torch.testing.assert_close(p, (a.state_dict()[name] + b.state_dict()[name]) / 2)
    assert c.generator.weight is c.tgt_embed.token.weight
