"""Evaluation: BLEU / chrF through sacreBLEU, perplexity, accuracy, plots, attention maps."""

from aiayn.evaluation.attention_viz import attention_heatmap, cross_attention_weights
from aiayn.evaluation.bleu import TranslationScores, corpus_scores
from aiayn.evaluation.metrics import (
    accuracy_f1,
    per_position_accuracy,
    perplexity,
    sequence_exact_match,
)
from aiayn.evaluation.plots import plot_curves, plot_per_position_accuracy

__all__ = [
    "TranslationScores",
    "accuracy_f1",
    "attention_heatmap",
    "corpus_scores",
    "cross_attention_weights",
    "per_position_accuracy",
    "perplexity",
    "plot_curves",
    "plot_per_position_accuracy",
    "sequence_exact_match",
]
