"""Training state: what a checkpoint holds and what resuming restores (the step, the data position,
the optimiser, the random generators). A real `aiayn train` killed with SIGKILL, before its
first checkpoint and halfway through writing one, and resumed to the uninterrupted run's weights
and losses: tests/app/test_train.py::test_a_run_killed_by_sigkill_resumes_exactly."""

import hashlib

import pytest
import torch

from aiayn.errors import AiaynError
from aiayn.training.state import TrainState, restore_rng, rng_state

# ------------------------------------------------------------------------------ resuming
CPU = torch.device("cpu")


def test_a_new_run_starts_at_zero():
    assert TrainState() == TrainState(
        step=0, epoch=0, batch_index=0, best_value=None, bad_evals=0, seconds=0.0
    )


def test_the_random_generators_are_restored():
    torch.manual_seed(3)
    saved = rng_state(CPU)
    expected = torch.rand(4)
    torch.rand(100)  # move on
    restore_rng(saved, device=CPU, seed=0)
    assert torch.equal(torch.rand(4), expected)


def test_other_process_counts_reseed_and_say_so(caplog):
    torch.manual_seed(3)
    two_ranks = {
        "rng_ranks": [{"cpu": torch.get_rng_state()}, {"cpu": torch.get_rng_state()}],
        "world_size": 2,
        "step": 7,
    }
    with caplog.at_level("WARNING", logger="aiayn.training.state"):
        restore_rng(two_ranks, device=CPU, seed=5)
    assert "resuming with 1 process(es) a run checkpointed with 2" in caplog.text
    drawn = torch.rand(3)
    torch.manual_seed(5 + 0 + 7)  # seed + rank + step
    assert torch.equal(drawn, torch.rand(3))


def test_resume_without_a_checkpoint_is_a_fresh_start(make_trainer):
    trainer = make_trainer("fresh")
    assert trainer.resume() is False and trainer.state == TrainState()


def test_resume_restores_the_step_data_position_and_optimiser(make_trainer):
    first = make_trainer("run", max_steps=20)
    for _ in range(5):  # 64 examples in batches of 16: epoch 1 starts at step 5
        first.step()
    first.state.best_value, first.state.bad_evals = 0.5, 2
    path = first.save()
    assert path is not None and path.name == "step-0000005"
    assert first.save() == path  # once per step
    second = make_trainer("run", max_steps=20)
    assert second.resume() is True
    assert (second.state.step, second.state.epoch, second.state.batch_index) == (5, 1, 1)
    assert (second.state.best_value, second.state.bad_evals) == (0.5, 2)
    for a, b in zip(first.module.parameters(), second.module.parameters(), strict=True):
        assert torch.equal(a, b)
    moments = [s["exp_avg"] for s in first.optimizer.state.values()]
    resumed = [s["exp_avg"] for s in second.optimizer.state.values()]
    assert all(torch.equal(a, b) for a, b in zip(moments, resumed, strict=True)) and moments
    # and the next step is the same in both
    assert first.step() == second.step()
    for a, b in zip(first.module.parameters(), second.module.parameters(), strict=True):
        assert torch.equal(a, b)


def test_a_checkpoint_of_a_sharded_run_needs_fsdp_to_resume(make_trainer):
    trainer = make_trainer("sharded")
    trainer.step()
    path = trainer.save()
    state = torch.load(path / "state.pt", weights_only=True)
    torch.save({**state, "fsdp": True}, path / "state.pt")
    sums = path / "SHA256SUMS"  # a checkpoint's checksums, rewritten for the changed file
    if sums.is_file():
        names = [line.split("  ", 1)[1] for line in sums.read_text().splitlines()]
        digests = {n: hashlib.sha256((path / n).read_bytes()).hexdigest() for n in names}
        sums.write_text("".join(f"{digests[n]}  {n}\n" for n in names))
    with pytest.raises(AiaynError, match="was written by an FSDP run: resume it with --fsdp"):
        make_trainer("sharded").resume()


def test_resume_passes_over_a_damaged_checkpoint_and_names_it(make_trainer, caplog):
    first = make_trainer("damaged", max_steps=20, keep_checkpoints=3)
    first.step()
    first.save()
    first.step()
    newest = first.save()
    state = newest / "state.pt"
    state.write_bytes(state.read_bytes()[:-100])  # truncated, as by a full disk
    second = make_trainer("damaged", max_steps=20, keep_checkpoints=3)
    with caplog.at_level("WARNING", logger="aiayn.training.state"):
        assert second.resume() is True
    assert second.state.step == 1
    assert "passed over a damaged checkpoint" in caplog.text and str(state) in caplog.text
    assert "resuming from" in caplog.text and "step-0000001" in caplog.text


def test_when_every_checkpoint_is_damaged_resume_says_so(make_trainer):
    trainer = make_trainer("all-damaged", max_steps=20)
    trainer.step()
    path = trainer.save()
    (path / "model.safetensors").write_bytes(b"not weights")
    with pytest.raises(AiaynError, match="every checkpoint in .* is damaged .*start the run again"):
        make_trainer("all-damaged", max_steps=20).resume()
