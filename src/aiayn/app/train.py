"""`aiayn train` as a function: resolve the configuration, train, summarise, prove.

Settings are layered, later ones winning: the model preset, the task's defaults, the config file,
`--set`, then the fields the data fixes (vocabulary size, padding id). The resolved configuration
is written to `config.json` in the run directory before training starts.

Under torchrun (WORLD_SIZE > 1) every process runs `train`: they join one process group, train
together, and evaluate together; rank 0 alone writes the run directory and the summary, and the
others wait at a barrier wherever they need a file it writes.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from aiayn.app.runs import load_run, read_run_config, write_run_config
from aiayn.config import ModelConfig, TrainConfig, model_preset, read_config_file, split_overrides
from aiayn.errors import AiaynError
from aiayn.tasks import Task, get_task, task_class
from aiayn.training import distributed
from aiayn.training.checkpoint import atomic_write_json
from aiayn.training.device import (
    allocator_in_use,
    autocast,
    keep_freed_memory,
    resolve_device,
    resolve_precision,
)
from aiayn.training.fsdp import check_fsdp
from aiayn.training.run_log import write_summary
from aiayn.training.trainer import Trainer

log = logging.getLogger(__name__)


@dataclass
class TrainRequest:
    """What `aiayn train` was asked: the task, where to write, and the settings in the order they
    apply (task defaults, then `config_file`, then `sets`, each `key=value`)."""

    task: str
    preset: str | None = None
    out: Path | None = None
    resume: bool = False
    device: str = "auto"
    max_minutes: float | None = None
    data_dir: Path | None = None
    data_file: Path | None = None
    config_file: Path | None = None
    sets: list[str] = field(default_factory=list)
    init: str | None = None
    backend: str = "aiayn"
    fsdp: bool = False  # shard the model with FSDP2 (torchrun on GPUs)


def _task_options(request: TrainRequest, file_task: dict, task_sets: dict) -> dict:
    options = {**file_task, **task_sets}
    if request.data_file is not None:
        options["data"] = str(request.data_file)
    if request.init is not None:
        options["init"] = request.init
    if request.backend != "aiayn":
        options["backend"] = request.backend
    return options


def resolve(request: TrainRequest) -> tuple[Task, Path, ModelConfig | None, TrainConfig, dict]:
    """The task, run directory, and configs a request asks for (model config before the data)."""
    task_cls = task_class(request.task)
    out = request.out or Path("runs") / request.task
    file_config = (
        read_config_file(request.config_file, task_options=task_cls.options)
        if request.config_file is not None
        else {}
    )
    sets = split_overrides(request.sets, task_options=task_cls.options)

    if request.resume:
        saved = read_run_config(out)
        if saved.get("task") != request.task:
            raise AiaynError(f"{out} holds a {saved.get('task')!r} run, not {request.task!r}")
        # Repeating the original command with --resume is fine; changing the model is not.
        changed = {k: v for k, v in sets.model.items() if saved["model"].get(k) != v}
        if changed:
            k = next(iter(changed))
            raise AiaynError(
                f"a resumed run keeps its model: --set {k}={changed[k]!r} differs from the "
                f"run's {k}={saved['model'].get(k)!r}"
            )
        task = get_task(request.task, saved.get("task_options", {}), data_dir=request.data_dir)
        train_dict = {**saved["train"], **sets.train}
        if request.max_minutes is not None:
            train_dict["max_minutes"] = request.max_minutes
        model_config = ModelConfig.from_dict(saved["model"])
        return task, out, model_config, TrainConfig.from_dict(train_dict), {}

    if (out / "config.json").exists():
        raise AiaynError(
            f"{out} already holds a run; pass --resume to continue it, or choose another --out"
        )
    task = get_task(
        request.task,
        _task_options(request, file_config.get("task", {}), sets.task),
        data_dir=request.data_dir,
    )
    train_dict = {**task.default_train, **file_config.get("train", {}), **sets.train}
    train_dict["device"] = request.device
    if request.max_minutes is not None:
        train_dict["max_minutes"] = request.max_minutes
    train_config = TrainConfig.from_dict(train_dict)
    model_dict = {**task.default_model, **file_config.get("model", {}), **sets.model}
    model_dict["preset"] = request.preset or file_config.get("preset") or task.default_preset
    return task, out, None, train_config, model_dict


@dataclass
class TrainResult:
    summary: dict[str, Any]
    run_dir: Path
    proofs: list[str]  # the lines proving the model works, for the CLI to print
    model: torch.nn.Module  # the trained model, in memory, in eval mode
    task: Task
    is_main: bool = True  # False on the ranks other than 0 of a torchrun job (they print nothing)


def train(request: TrainRequest) -> TrainResult:
    """Train as asked; write the run directory; return the summary, proofs and model."""
    task, out, model_config, train_config, model_dict = resolve(request)
    device_name = request.device if not request.resume else train_config.device
    if request.fsdp:
        check_fsdp(device_name)
    if not distributed.requested():
        if request.fsdp:
            raise AiaynError("--fsdp needs several processes: add --nproc N, or run under torchrun")
        return _train(
            request, task, out, model_config, train_config, model_dict, resolve_device(device_name)
        )
    device = distributed.setup(device_name)
    try:
        with distributed.peers_watched():
            return _train(request, task, out, model_config, train_config, model_dict, device)
    finally:
        distributed.teardown()


def _train(
    request: TrainRequest,
    task: Task,
    out: Path,
    model_config: ModelConfig | None,
    train_config: TrainConfig,
    model_dict: dict,
    device: torch.device,
) -> TrainResult:
    rank, world = distributed.rank_and_world()
    main = rank == 0
    if train_config.precision == "auto":  # decided once, for this device, and stored
        train_config = train_config.replace(precision=resolve_precision("auto", device))
        log.info("precision auto -> %s on %s", train_config.precision, device)
    # Every rank looks at the run directory before rank 0 writes anything into it.
    untrained_path = out / "untrained.json"
    have_untrained = request.resume and untrained_path.is_file()
    distributed.barrier()
    if main:
        out.mkdir(parents=True, exist_ok=True)
        data_fields = task.prepare(out, train_config)
    # Rank 0 prepares first (it may build and save a tokenizer); the others then find its files.
    distributed.barrier()
    if not main:
        data_fields = task.prepare(out, train_config)
    if model_config is None:
        preset = model_dict.pop("preset")
        base = model_preset(preset)
        arch = {"arch": task.arch} if base.arch != task.arch else {}
        fixed = {k: v for k, v in model_dict.items() if k in data_fields and v != data_fields[k]}
        if fixed:
            k = next(iter(fixed))
            raise AiaynError(
                f"--set {k}={fixed[k]!r} conflicts with the data or pretrained model of task "
                f"{task.name!r}, which fixes {k}={data_fields[k]!r}"
            )
        model_config = base.replace(**{**arch, **model_dict, **data_fields})
        if not task.accepts(model_config.arch):
            raise AiaynError(
                f"task {task.name!r} trains a {task.arch} model, not {model_config.arch}"
            )
        if main:
            write_run_config(out, task=task, model=model_config, train=train_config)

    if device.type == "cpu":
        keep_freed_memory()  # large per-step allocations reuse pages instead of faulting them in
    torch.manual_seed(train_config.seed)
    model = task.build_model(model_config)
    if not request.fsdp:  # FSDP moves each shard to the device itself
        model = model.to(device)
    trainer = Trainer(
        model=model,
        config=train_config,
        train_data=task.train_source(train_config),
        out_dir=out,
        device=device,
        d_model=model_config.d_model,
        pad_id=model_config.pad_id,
        smoothing_exclude=task.never_targets,
        evaluate=lambda m: task.evaluate(m, "val"),
        loss_fn=task.loss_fn(train_config),
        best_metric=task.best_metric,
        best_mode=task.best_mode,
        fsdp=request.fsdp,
    )
    if have_untrained:
        untrained = json.loads(untrained_path.read_text(encoding="utf-8"))
    else:
        untrained = {k.removeprefix("val_"): v for k, v in trainer.evaluate().items()}
        if main:
            atomic_write_json(untrained_path, untrained)
    # The baseline evaluation must not change what training does: reset the RNG, whether the
    # baseline was evaluated now or by an interrupted run (killed before its first checkpoint,
    # it starts again from step 0 and must draw the same dropout masks). A checkpoint, when
    # there is one, restores its own RNG state in `fit`. Each rank draws its own masks.
    torch.manual_seed(train_config.seed + rank)

    started = time.perf_counter()
    result = trainer.fit(resume=request.resume)
    model.eval()
    with torch.no_grad():
        summary: dict[str, Any] = {
            "task": task.name,
            "steps": result["steps"],
            "seconds": round(result["seconds"], 2),
            "stopped": result["stopped"],
            **({"skipped_steps": result["skipped_steps"]} if "skipped_steps" in result else {}),
            "parameters": sum(p.numel() for p in model.parameters()),
            **({"frozen_parameters": trainer.frozen} if trainer.frozen else {}),
            "device": str(device),
            **({"processes": world} if world > 1 else {}),
            "allocator": allocator_in_use(),  # CPU speed depends on it (aiayn.cli.allocator)
        }
        # The same numerics as the evaluations during training, whose figures it may reuse.
        with autocast(device, train_config.precision):
            summary.update(task.summarize(model, untrained, result))
        proofs = task.proofs(summary)
        # Proof 3: the saved model, loaded into fresh objects, gives exactly the same outputs.
        # (A sharded model runs forward passes on all ranks together; a plain one on rank 0.)
        mine = task.reference_outputs(model) if request.fsdp or main else None
        if main:
            reloaded = load_run(out, device=device)
            same = mine == task.reference_outputs(reloaded.model)
    if not main:
        return TrainResult(summary, out, proofs, model, task, is_main=False)
    summary["reloaded_model_generates_the_same"] = same
    proofs.append(
        (f"{len(proofs) + 1}. " if proofs and proofs[0][:2] == "1." else "")
        + f"the saved model, reloaded from {out}, generates "
        + ("exactly the same outputs token by token" if same else "DIFFERENT outputs (a bug)")
    )
    task.plots(out, summary)
    write_summary(out, summary)
    log.info("finished in %.1f s", time.perf_counter() - started)
    return TrainResult(summary, out, proofs, model, task)
