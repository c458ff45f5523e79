"""Where a trained run's model looks: one input's attention, chosen by kind, layer and head.

`attention_of` asks the run's task (DrawsAttention) for every attention of one input and picks a
kind; `draw_attention` draws it as a PNG grid (a row per layer, a column per head, or the one
layer / head asked for); `attention_views` turns it into the pages' AttentionView (aiayn.web).
Layers and heads are counted from 0 as the model counts them; -1 is the last, and a title always
shows the real number.
"""

from __future__ import annotations

from pathlib import Path

from aiayn.app.runs import Run
from aiayn.decoding import SearchOptions
from aiayn.errors import AiaynError
from aiayn.evaluation.attention_viz import KINDS, TITLES, AttentionMap, attention_grid
from aiayn.tasks import DrawsAttention
from aiayn.tasks.attention import LanguageModelAttention
from aiayn.web import AttentionView

GREEDY = SearchOptions()


def attention_task(run: Run) -> DrawsAttention:
    """The run's task as DrawsAttention, or a one-line error naming the run."""
    if not isinstance(run.task, DrawsAttention):
        raise AiaynError(
            f"{run.directory} is a {run.task.name!r} run; `aiayn attention` needs a task whose "
            "model has attention (encoder-decoder, language model or classifier)"
        )
    return run.task


def resolve_kind(task: DrawsAttention, kind: str | None) -> str:
    """The kind to draw: the task's default for None; "self" is the one self-attention of a
    single-stack model (a language model's decoder, a classifier's encoder)."""
    kinds = task.attention_kinds
    if kind is None:
        return kinds[0]
    if kind not in KINDS:
        raise AiaynError(f"--kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if kind == "self":
        selfs = [k for k in kinds if k != "cross"]
        if len(selfs) != 1:
            raise AiaynError(
                "this model has encoder and decoder self-attention: ask for --kind encoder or "
                "--kind decoder"
            )
        return selfs[0]
    if kind not in kinds:
        raise AiaynError(
            f"a {task.name!r} model has no {kind} attention; it has: {', '.join(kinds)}"
        )
    return kind


def _index(value: int | None, count: int, what: str) -> list[int]:
    """The real 0-based numbers that `value` picks among `count` (None: all of them)."""
    if value is None:
        return list(range(count))
    if not -count <= value < count:
        raise AiaynError(
            f"--{what} must be in [{-count}, {count - 1}] (the model has {count} {what}s), "
            f"got {value}"
        )
    return [value % count]


def attention_of(
    run: Run, text: str, *, kind: str | None = None, options: SearchOptions = GREEDY
) -> tuple[str, str, AttentionMap]:
    """(the model's answer, the kind, its AttentionMap (L, H, Tq, Tk)) of `text`."""
    task = attention_task(run)
    kind = resolve_kind(task, kind)
    answer, maps = task.attention(run.model, text, options=options)
    return answer, kind, maps[kind]


def draw_attention(
    run: Run,
    text: str,
    out: Path,
    *,
    kind: str | None = None,
    layer: int | None = None,
    head: int | None = None,
    average: bool = False,
    options: SearchOptions = GREEDY,
) -> tuple[str, Path]:
    """Draw the attention of `text` into the PNG `out`; (the model's answer, the PNG path).

    Every layer and head as a grid, or only `layer` and / or `head` (negative: from the end);
    `average` draws the mean over the heads instead, one panel per layer.
    """
    if average and head is not None:
        raise AiaynError("--average draws the mean over heads: leave out --head")
    answer, kind, amap = attention_of(run, text, kind=kind, options=options)
    L, H = amap.weights.shape[:2]
    layers, heads = _index(layer, L, "layer"), _index(head, H, "head")
    weights = amap.weights[layers][:, heads]  # (L', H', Tq, Tk)
    where = f"layer {layers[0]}" if len(layers) == 1 else f"layers 0-{L - 1}"
    if average:
        weights = weights.mean(dim=1, keepdim=True)  # (L', H, Tq, Tk) -> (L', 1, Tq, Tk)
        where += ", mean over heads"
    elif len(heads) == 1:
        where += f", head {heads[0]}"
    path = attention_grid(
        weights,
        query_tokens=amap.query_tokens,
        key_tokens=amap.key_tokens,
        out=Path(out),
        layers=layers,
        heads=None if average else heads,
        title=f"{TITLES[kind]}, {where}",
    )
    return answer, path


def attention_views(
    run: Run, text: str, *, options: SearchOptions = GREEDY, title: str | None = None
) -> tuple[str, list[AttentionView]]:
    """(the model's answer, one AttentionView per kind of attention) of `text`, for a page."""
    task = attention_task(run)
    answer, maps = task.attention(run.model, text, options=options)
    return answer, [_view(kind, maps[kind], title or text) for kind in task.attention_kinds]


def written_view(run: Run, ids: list[int], *, title: str) -> AttentionView:
    """The page's view of a language model's masked self-attention over token `ids` (what it
    was given and what it wrote), over the last max_len of them when there are more."""
    task = attention_task(run)
    if not isinstance(task, LanguageModelAttention):
        raise AiaynError(f"{run.directory} is a {task.name!r} run, not a language model")
    return _view("decoder", task.attention_of_ids(run.model, ids), title)


def _view(kind: str, amap: AttentionMap, title: str) -> AttentionView:
    """The page's AttentionView of one kind's AttentionMap, titled "<kind's title>: <title>"."""
    return AttentionView(
        title=f"{TITLES[kind]}: {title}"[:120],
        query_tokens=amap.query_tokens,
        key_tokens=amap.key_tokens,
        weights=amap.weights.tolist(),
    )


__all__ = [
    "attention_of",
    "attention_task",
    "attention_views",
    "draw_attention",
    "resolve_kind",
    "written_view",
]
