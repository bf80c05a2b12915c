"""Would more labels help? Cross-validated scores at growing shares of the training data.

`python -m pipeline.learning_curve [model=... features=...]` runs after prepare and uses the training and
validation splits only (the test split stays unseen). Folds keep groups (source articles) whole. Writes
reports/learning_curve.json and .png and prints the table, and the label pairs most often confused.
"""

import logging
from collections import Counter
from pathlib import Path

import hydra
import numpy as np
import pandas as pd
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

from pipeline.config_errors import reports_config_errors
from pipeline.data.prepared_data import use_prepared_data
from pipeline.data.stage_io import read_split
from pipeline.data.validation import GROUP, LABEL
from pipeline.errors import exit_on_user_error
from pipeline.files import atomic_path, write_json
from pipeline.scoring.metrics import classification_metrics
from pipeline.train import fit_classifier

log = logging.getLogger(__name__)

FRACTIONS = (0.25, 0.5, 0.75, 1.0)
FOLDS = 5


def cross_validation_folds(frame: pd.DataFrame, seed: int):
    if GROUP in frame:
        splitter = StratifiedGroupKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
        return splitter.split(frame, frame[LABEL], groups=frame[GROUP])
    return StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed).split(frame, frame[LABEL])


def stratified_share(frame: pd.DataFrame, fraction: float, seed: int) -> pd.DataFrame:
    if fraction >= 1.0:
        return frame
    share, _ = train_test_split(frame, train_size=fraction, stratify=frame[LABEL], random_state=seed)
    return share


def learning_curve(cfg: DictConfig, frame: pd.DataFrame) -> tuple[list[dict], Counter, list[dict]]:
    """Per fraction: mean and spread of macro-F1 and F_avg over folds; plus the confused pairs at 100%."""
    scores = {fraction: [] for fraction in FRACTIONS}
    confusions: Counter = Counter()
    examples: list[dict] = []
    for fold_train_rows, fold_test_rows in cross_validation_folds(frame, cfg.seed):
        fold_train, fold_test = frame.iloc[fold_train_rows], frame.iloc[fold_test_rows]
        for fraction in FRACTIONS:
            classifier = fit_classifier(cfg, stratified_share(fold_train, fraction, cfg.seed))
            predictions = classifier.predict(fold_test)
            scores[fraction].append(
                classification_metrics(fold_test[LABEL], predictions, cfg.data.labels, cfg.data.stance_labels)
            )
        wrong = fold_test[LABEL].to_numpy() != predictions
        confusions.update(zip(fold_test[LABEL][wrong], predictions[wrong], strict=True))
        examples += [
            {"id": row.id, "text": row.text, "label": row.label, "predicted": predicted}
            for row, predicted in zip(fold_test[wrong].itertuples(), predictions[wrong], strict=True)
        ]
    curve = [
        {
            "fraction": fraction,
            "train_statements": int(round(fraction * len(frame) * (FOLDS - 1) / FOLDS)),
            **{
                f"{metric}_{statistic}": float(function([fold[metric] for fold in folds]))
                for metric in ("macro_f1", "f_avg")
                for statistic, function in (("mean", np.mean), ("std", np.std))
            },
        }
        for fraction, folds in scores.items()
    ]
    return curve, confusions, examples


def curve_figure(curve: list[dict]):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4), dpi=110)
    sizes = [point["train_statements"] for point in curve]
    for metric, name in (("macro_f1", "macro-F1"), ("f_avg", "F_avg")):
        means = np.array([point[f"{metric}_mean"] for point in curve])
        spreads = np.array([point[f"{metric}_std"] for point in curve])
        axes.plot(sizes, means, marker="o", label=name)
        axes.fill_between(sizes, means - spreads, means + spreads, alpha=0.2)
    axes.set_xlabel("training statements")
    axes.set_ylabel(f"{FOLDS}-fold cross-validated score")
    axes.set_title("Learning curve")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    return figure


@reports_config_errors
@hydra.main(config_path="../conf", config_name="config", version_base="1.3")
@exit_on_user_error
def main(cfg: DictConfig) -> None:
    # The data set the prepared splits hold (its labels, columns and metric), not conf/'s default.
    use_prepared_data(cfg, list(HydraConfig.get().overrides.task))
    frame = pd.concat([read_split(cfg.paths.processed, "train"), read_split(cfg.paths.processed, "validation")])
    curve, confusions, examples = learning_curve(cfg, frame)
    print(f"\n{cfg.model.name} · {cfg.features.name}: {FOLDS}-fold cross-validation on {len(frame)} statements")
    print(f"{'share':>6} {'statements':>10} {'macro-F1':>16} {'F_avg':>16}")
    for point in curve:
        macro_f1 = f"{point['macro_f1_mean']:.3f} ± {point['macro_f1_std']:.3f}"
        f_avg = f"{point['f_avg_mean']:.3f} ± {point['f_avg_std']:.3f}"
        print(f"{point['fraction']:>6.0%} {point['train_statements']:>10} {macro_f1:>16} {f_avg:>16}")
    print("\nMost confused (true -> predicted, over all folds at 100%):")
    for (truth, predicted), count in confusions.most_common(6):
        print(f"  {count:>4}  {truth} -> {predicted}")
    reports = Path(cfg.paths.reports)
    write_json(
        reports / "learning_curve.json",
        {
            "model": cfg.model.name,
            "features": cfg.features.name,
            "curve": curve,
            "confused_pairs": [
                {"label": truth, "predicted": predicted, "count": count}
                for (truth, predicted), count in confusions.most_common()
            ],
            "misclassified": examples,
        },
    )
    with atomic_path(reports / "learning_curve.png") as temporary:
        curve_figure(curve).savefig(temporary, format="png")
    log.info("wrote %s and %s", reports / "learning_curve.json", reports / "learning_curve.png")


if __name__ == "__main__":
    main()
