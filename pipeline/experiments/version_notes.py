"""What a registered model version says about itself in the MLflow registry: a description and tags.

A person browsing a data set's registered model (`stance-classifier` for the shipped corpus) sees which model,
features, parameters, data and test scores a version holds, and why it did or did not become champion, without
opening its run.
"""

from collections.abc import Mapping

METRIC_LABELS = {"macro_f1": "macro-F1", "f_avg": "F_avg", "accuracy": "accuracy"}


def version_description(
    run_name: str,
    data_name: str,
    data_md5: str,
    test_metrics: Mapping[str, float],
    baseline_metrics: Mapping[str, float],
    decision_reason: str,
    promoted: bool,
    split_sizes: Mapping[str, int] | None = None,
) -> str:
    """Markdown, as the registry UI renders it:

    logreg · word_char · C=4
    Data: intervention-statements (md5 1a2b3c4d), 1,590 statements: 1,133 train · 228 validation · 229 test
    Test: macro-F1 0.801 · F_avg 0.756 · accuracy 0.799 (majority baseline macro-F1 0.168)
    Champion: promoted (no champion yet)
    """
    scores = " · ".join(
        f"{label} {test_metrics[name]:.3f}" for name, label in METRIC_LABELS.items() if name in test_metrics
    )
    baseline = baseline_metrics.get("macro_f1")
    floor = f" (majority baseline macro-F1 {baseline:.3f})" if baseline is not None else ""
    # Counted from the prepared splits: the data set's description in its config is prose, written once.
    sizes = ""
    if split_sizes:
        parts = " · ".join(f"{count:,} {split}" for split, count in split_sizes.items())
        sizes = f", {sum(split_sizes.values()):,} statements: {parts}"
    return "  \n".join(
        [
            # Plain text: the registered model's versions table shows the description's first characters as they are.
            run_name,
            f"Data: {data_name} (md5 {data_md5[:8]}){sizes}",
            f"Test: {scores}{floor}",
            f"Champion: {'promoted' if promoted else 'kept the previous one'} ({decision_reason})",
        ]
    )


def version_tags(run_tags: Mapping[str, str], dvc_tags: Mapping[str, str]) -> dict[str, str]:
    """The commit the version was trained at and, for `dvc exp run`, the DVC experiment and its baseline commit."""
    return {"git_commit": run_tags.get("git_commit", "unknown"), **dvc_tags}
