"""The optimiser: Adam with the paper's settings over parameter groups for decoupled weight decay,
layer-wise learning-rate decay and frozen parameters."""

import pytest
import torch
from torch import nn

from aiayn import build_model, model_preset
from aiayn.config import TrainConfig
from aiayn.errors import AiaynError
from aiayn.training.optim import build_optimizer, freeze_parameters, layer_depth, parameter_groups


@pytest.mark.parametrize(
    ("name", "depth"),
    [
        ("embed.token.weight", 0),
        ("src_embed.position.weight", 0),
        ("encoder.layers.0.self_attn.w_q.weight", 1),
        ("decoder.layers.11.feed_forward.w_2.bias", 12),
        ("bert.encoder.layer.3.attention.self.query.weight", 4),  # Hugging Face's naming
        ("pooler.weight", None),
        ("classifier.bias", None),
        ("encoder.norm.weight", None),
        ("player.1.weight", None),  # "layer" must be a whole name part
    ],
)
def test_layer_depth(name, depth):
    assert layer_depth(name) == depth


def test_parameter_groups_without_options_is_one_group_of_everything():
    model = nn.Sequential(nn.Linear(4, 3), nn.LayerNorm(3))
    named = list(model.named_parameters())
    groups = parameter_groups(named, weight_decay=0.0, layer_lr_decay=1.0)
    assert len(groups) == 1 and groups[0]["params"] == [p for _, p in named]
    decayed, exempt = parameter_groups(named, weight_decay=0.1, layer_lr_decay=1.0)
    assert decayed["params"] == [model[0].weight] and "weight_decay" not in decayed
    assert exempt["params"] == [model[0].bias, model[1].weight, model[1].bias]
    assert exempt["weight_decay"] == 0.0


def test_build_optimizer_is_adam_with_the_configs_settings_over_what_trains():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].weight.requires_grad_(False)
    config = TrainConfig(beta1=0.8, beta2=0.95, eps=1e-7, weight_decay=0.01)
    optimizer = build_optimizer(list(model.named_parameters()), config, fused=False)
    assert isinstance(optimizer, torch.optim.Adam)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    assert len(params) == 3 and all(p is not model[0].weight for p in params)
    d = optimizer.defaults
    assert (d["betas"], d["eps"], d["weight_decay"]) == ((0.8, 0.95), 1e-7, 0.01)
    assert d["decoupled_weight_decay"] is True and d["fused"] is None
    paper = build_optimizer(list(model.named_parameters()), TrainConfig(), fused=True)
    assert (paper.defaults["betas"], paper.defaults["eps"]) == ((0.9, 0.98), 1e-9)  # section 5.3
    assert paper.defaults["fused"] is True


def test_freeze_parameters_stops_training_what_matches_and_counts_it():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    assert freeze_parameters(model, r"^0\.") == 4 * 3 + 3
    assert [p.requires_grad for p in model.parameters()] == [False, False, True, True]
    assert freeze_parameters(model, "bias") == 3 + 2  # re.search: anywhere in the name
    with pytest.raises(AiaynError, match=r"freeze='\^2' matches no parameter name"):
        freeze_parameters(model, "^2")


def test_weight_decay_is_decoupled_and_spares_biases_and_norms(make_trainer):
    """AdamW: with zero gradients the Adam step is zero, so one step only shrinks each weight
    matrix by lr * weight_decay; vectors (biases, LayerNorm gains) keep their values."""
    trainer = make_trainer("wd", weight_decay=0.5)
    before = {n: p.detach().clone() for n, p in trainer.module.named_parameters()}
    for group in trainer.optimizer.param_groups:
        group["lr"] = 0.1
    for p in trainer.module.parameters():
        p.grad = torch.zeros_like(p)
    trainer.optimizer.step()
    for name, p in trainer.module.named_parameters():
        factor = 1 - 0.1 * 0.5 if p.dim() >= 2 else 1.0
        torch.testing.assert_close(p.detach(), before[name] * factor, msg=name)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_layer_lr_decay_scales_each_depth(weight_decay):
    """A 2-layer encoder classifier: the embeddings learn at decay ** 3, layer i at
    decay ** (2 - i), the pooler and classifier at the full rate; matrices still decay and
    vectors still do not."""
    model = build_model(model_preset("cls-small", vocab_size=50, pooler=True))
    named = list(model.named_parameters())
    groups = parameter_groups(named, weight_decay=weight_decay, layer_lr_decay=0.5)
    group_of = {id(p): g for g in groups for p in g["params"]}
    assert sum(len(g["params"]) for g in groups) == len(named) == len(group_of)
    depths = set()
    for name, p in named:
        depth = 0 if name.startswith("embed.") else 3
        for i in (0, 1):
            if name.startswith(f"encoder.layers.{i}."):
                depth = i + 1
        depths.add(depth)
        assert group_of[id(p)]["lr_scale"] == 0.5 ** (3 - depth), name
        assert group_of[id(p)].get("weight_decay", weight_decay) == (
            weight_decay if p.dim() >= 2 else 0.0
        ), name
    assert depths == {0, 1, 2, 3}


def test_without_layer_lr_decay_the_groups_are_as_before(make_trainer):
    assert len(make_trainer("one").optimizer.param_groups) == 1
    assert len(make_trainer("two", weight_decay=0.1).optimizer.param_groups) == 2
    with pytest.raises(ValueError, match="layer_lr_decay"):
        TrainConfig(layer_lr_decay=0.0)


def test_frozen_parameters_keep_their_values_and_the_rest_trains(make_trainer):
    trainer = make_trainer("frozen", freeze=r"^encoder\.layers\.0\.", max_steps=3)
    named = dict(trainer.module.named_parameters())
    frozen = {n for n in named if n.startswith("encoder.layers.0.")}
    assert frozen and trainer.frozen == sum(named[n].numel() for n in frozen)
    before = {n: p.detach().clone() for n, p in named.items()}
    trainer.fit()
    for name, p in named.items():
        moved = not torch.equal(p.detach(), before[name])
        assert moved == (name not in frozen), name
    optimised = {id(p) for g in trainer.optimizer.param_groups for p in g["params"]}
    assert not optimised & {id(named[n]) for n in frozen}


def test_a_freeze_pattern_that_matches_nothing_is_an_error(make_trainer):
    with pytest.raises(AiaynError, match="matches no parameter"):
        make_trainer("none", freeze="no_such_weight")
    with pytest.raises(ValueError, match="regular expression"):
        TrainConfig(freeze="embed[")
