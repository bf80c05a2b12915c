"""Compare the runs of an experiment: the best runs by one metric, as a terminal table and a bar chart.

    python -m pipeline.compare                          # best 10 runs by the data set's validation selection metric
    python -m pipeline.compare --metric test_f_avg --top 5 --chart reports/best_f_avg.png
    python -m pipeline.compare --dvc-exp bronze-fish    # the runs of one DVC experiment

The runs come from MLflow through `tracking.runs_table`; everything else here works on that plain DataFrame.
"""

import argparse
import difflib
import sys
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from pipeline import tracking
from pipeline.errors import UserInputError, exit_with_user_error, reader_stopped_early
from pipeline.experiments.run_names import shorten_numbers
from pipeline.experiments.tracking_server import (
    INTERACTIVE_HTTP_BOUNDS,
    INTERACTIVE_TIMEOUT,
    bound_http_retries,
    check_answers,
)
from pipeline.files import atomic_path, sqlite_database_path

DEFAULT_EXPERIMENT = "stance-intervention-statements"
DEFAULT_METRIC = "val_macro_f1"
# The alias the evaluate stage's gate moves (conf/config.yaml: champion.alias).
CHAMPION_ALIAS = "champion"
CHAMPION_MARK = " (champion)"


def experiment_of(manifest: dict) -> str:
    """The MLflow experiment of the data set a manifest describes (conf/config.yaml: stance-${data.name})."""
    return f"stance-{manifest['data']['name']}"


def prepared_manifest() -> dict | None:
    """The prepared splits' manifest (which data set they hold); None when nothing is prepared."""
    from pipeline.data.prepared_data import DEFAULT_PROCESSED, read_manifest

    return read_manifest(DEFAULT_PROCESSED)


def prepared_defaults() -> tuple[str, str]:
    """The experiment and validation metric of the data set the prepared splits hold (the shipped corpus's before)."""
    manifest = prepared_manifest()
    if manifest is None:
        return DEFAULT_EXPERIMENT, DEFAULT_METRIC
    return experiment_of(manifest), f"val_{manifest['data'].get('selection_metric', 'macro_f1')}"


def prepared_splits(manifest: dict) -> tuple[str, str] | None:
    """(splits_md5, data_md5) of the splits a manifest describes, as the runs scored on them are tagged; None for a
    manifest written before the data's digest was recorded.

    Once statements are added (or the seed or the split settings change), the validation and test splits hold
    other statements: runs scored on them and runs scored on the old ones are not ranked by the same yardstick.
    """
    from pipeline.data.prepared_data import manifest_splits_digest

    if "digest" not in manifest:
        return None
    return manifest_splits_digest(manifest), manifest["digest"]


def newest_setting(runs: pd.DataFrame, name: str) -> str | None:
    """A setting (a param or tag column) as the experiment's newest run that has it logged it (runs come newest
    first): what a data set that is not the prepared one is ranked by."""
    values = column(runs, name).dropna()
    return str(values.iloc[0]) if not values.empty else None


# `manifest` below: the prepared splits' manifest when they hold the compared experiment's data set, else None.


def registered_model_of(manifest: dict | None, runs: pd.DataFrame) -> str | None:
    """The registered model of the experiment's data set: the prepared one's, else as its newest run named it."""
    if manifest is not None:
        return manifest["data"].get("registered_model")
    return newest_setting(runs, "params.mlflow.registered_model")


def champion_run(registered_model: str | None, alias: str = CHAMPION_ALIAS) -> tuple[str, str] | None:
    """(run id, model URI) of a registered model's champion; None when it has none."""
    run_id = tracking.aliased_run_id(registered_model, alias) if registered_model else None
    return (run_id, f"models:/{registered_model}@{alias}") if run_id else None


def ranked_splits(manifest: dict | None, runs: pd.DataFrame) -> tuple[tuple[str, str] | None, str]:
    """The (splits_md5, data_md5) runs are ranked on, and what they are: the splits now prepared, or, for another
    data set's experiment, its newest run's."""
    if manifest is not None:
        return prepared_splits(manifest), "those prepared"
    splits, data = newest_setting(runs, "tags.splits_md5"), newest_setting(runs, "tags.data_md5")
    return ((splits, data) if splits and data else None), "the newest run's"


def on_prepared_splits(runs: pd.DataFrame, splits_md5: str, data_md5: str) -> tuple[pd.DataFrame, int]:
    """The runs scored on the prepared splits, and how many were scored on others. A run logged before runs
    recorded their splits is judged by its data alone; one that records neither (a sweep parent) is kept."""
    splits, data = column(runs, "tags.splits_md5"), column(runs, "tags.data_md5")
    other = splits.notna() & splits.ne(splits_md5)
    other |= splits.isna() & data.notna() & data.ne(data_md5)
    return runs[~other], int(other.sum())


# The scores the table always shows, beside the one the runs are ranked by.
TABLE_METRICS = ("val_macro_f1", "test_macro_f1", "test_f_avg", "test_accuracy")
MISSING = "-"
SHORT_ID = 8
# Sweep parents are named after all their overrides; longer names are cut to keep the table on one screen.
MAX_NAME = 50


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="stance-compare",
        description="Rank the MLflow runs of an experiment by one metric; print a table and write a bar chart.",
    )
    experiment, metric = prepared_defaults()
    parser.add_argument(
        "--experiment",
        default=experiment,
        help="MLflow experiment (default: the prepared data set's, now %(default)s)",
    )
    parser.add_argument(
        "--tracking-uri",
        default=None,
        help=f"MLflow store (default: $MLFLOW_TRACKING_URI, else {tracking.DEFAULT_TRACKING_URI})",
    )
    parser.add_argument(
        "--metric",
        default=None,
        help="metric to rank by, higher is better: val_macro_f1, test_macro_f1, test_f_avg, ... "
        f"(default: the data set's selection metric on validation, now {metric} for the prepared data set)",
    )
    parser.add_argument("--top", type=int, default=10, metavar="N", help="how many runs to show (default: %(default)s)")
    parser.add_argument(
        "--chart",
        default=None,
        metavar="PATH",
        help="bar chart (default: reports/compare_<metric>.png; for another data set than the prepared one, "
        "reports/compare_<experiment>_<metric>.png)",
    )
    parser.add_argument(
        "--include-parents", action="store_true", help="also rank the parent runs of sweeps (skipped by default)"
    )
    parser.add_argument(
        "--every-run",
        action="store_true",
        help="list every run, also reruns of one configuration on the same data (by default each configuration "
        "is one row, its best run or the champion, with a count of its runs)",
    )
    parser.add_argument(
        "--all-states",
        action="store_true",
        help="also rank runs that are RUNNING, FAILED or KILLED (by default only FINISHED runs)",
    )
    parser.add_argument(
        "--all-data",
        action="store_true",
        help="also rank runs trained and scored on other versions of the data, or other splits (by default only the "
        "runs on the splits now prepared: other runs' scores are on other statements)",
    )
    parser.add_argument(
        "--dvc-exp",
        default=None,
        metavar="NAME",
        help="only the runs of this DVC experiment (the name `dvc exp show` lists; `dvc exp apply NAME` restores it)",
    )
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    return args


def default_chart_path(metric: str, experiment: str | None = None) -> Path:
    """reports/compare_<metric>.png for the prepared data set; another data set's chart names its experiment, so
    that comparing it does not overwrite the prepared one's."""
    # Per-class metrics are named like test_f1/neutral.
    prefix = f"compare_{experiment}_" if experiment else "compare_"
    return Path("reports") / f"{prefix}{metric.replace('/', '_')}.png"


def selection_metric(manifest: dict | None, runs: pd.DataFrame) -> str:
    """The data set's selection metric on validation: the prepared data set's, else its newest run's."""
    chosen = manifest["data"].get("selection_metric") if manifest else newest_setting(runs, "params.selection_metric")
    return f"val_{chosen}" if chosen else DEFAULT_METRIC


def other_data_sets(experiment: str) -> list[str]:
    """The store's other experiments of data sets (stance-<name>), to name in the output."""
    return [name for name in tracking.experiment_names() if name.startswith("stance-") and name != experiment]


def load_runs(tracking_uri: str | None, experiment: str) -> pd.DataFrame:
    """All runs of the experiment; a UserInputError when the store, the experiment or its runs are missing."""
    resolved = tracking.resolve_tracking_uri(tracking_uri)
    database = sqlite_database_path(resolved)
    # Opening a missing sqlite store would create an empty one in the wrong directory.
    if database is not None and not database.is_file():
        raise UserInputError(
            f"no MLflow store at {database}: run the pipeline first (make run), or pass --tracking-uri"
        )
    # Fail in seconds, with one line, where MLflow's client would retry an unreachable server for minutes.
    check_answers(resolved, INTERACTIVE_TIMEOUT)
    bound_http_retries(INTERACTIVE_HTTP_BOUNDS)
    runs = tracking.runs_table(resolved, experiment)
    # runs_table gives a frame without columns for an unknown experiment, one without rows for an empty one.
    if runs.columns.empty:
        names = ", ".join(repr(name) for name in tracking.experiment_names()) or "none"
        raise UserInputError(
            f"experiment {experiment!r} not found in {resolved}; its experiments: {names} (one per data set, "
            "named stance-<data set>; a registered model's name is not an experiment's)"
        )
    if runs.empty:
        raise UserInputError(f"experiment {experiment!r} in {resolved} has no runs yet: train one first (make run)")
    return runs


def column(runs: pd.DataFrame, name: str) -> pd.Series:
    """A column of the runs table, all missing when no run has it."""
    return runs[name] if name in runs.columns else pd.Series(None, index=runs.index, dtype=object)


def finished_only(runs: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """The FINISHED runs, and how many runs of each other state were left out.

    A run that died half-way has partial scores (validation but no test, or a model that was never registered).
    """
    status = column(runs, "status").fillna("UNKNOWN")
    finished = status.eq("FINISHED")
    left_out = {f"{state}": int(count) for state, count in status[~finished].value_counts().sort_index().items()}
    return runs[finished], left_out


def is_sweep_parent(runs: pd.DataFrame) -> pd.Series:
    return column(runs, "tags.sweep_role").eq("parent")


def available_metrics(runs: pd.DataFrame) -> list[str]:
    return sorted(name.removeprefix("metrics.") for name in runs.columns if name.startswith("metrics."))


def unknown_metric_message(metric: str, available: list[str]) -> str:
    """Names the closest metrics, and the runs' metrics without the per-label and per-target ones (`name/label`),
    which would make the line hundreds of characters long."""
    message = f"no run logged the metric {metric!r}; "
    if close := difflib.get_close_matches(metric, available, n=3, cutoff=0.6):
        message += f"did you mean {' or '.join(repr(name) for name in close)}? The runs have: "
    else:
        message += "the runs have: "
    overall = [name for name in available if "/" not in name]
    per_part = len(available) - len(overall)
    message += ", ".join(overall) or "no metrics"
    if per_part:
        message += f", and {per_part} per label or per target (such as {next(n for n in available if '/' in n)!r})"
    if metric.startswith(("test_", "baseline_")) and not any(name.startswith("test_") for name in available):
        message += (
            ". Test scores come from the evaluate stage (make run); quick runs (python -m pipeline.train) and "
            "sweeps score the validation split only (val_*)"
        )
    return message


def rank_runs(runs: pd.DataFrame, metric: str, include_parents: bool = False) -> tuple[pd.DataFrame, dict[str, int]]:
    """Runs holding the metric, best first; and how many were left out, and why.

    With include_parents, a sweep's parent run that lacks the metric is ranked by its best child's score
    (`best_<metric>`, which the sweep logs on the parent).
    """
    if metric not in available_metrics(runs):
        raise UserInputError(unknown_metric_message(metric, available_metrics(runs)))
    parents = is_sweep_parent(runs)
    left_out = {"sweep parents": 0 if include_parents else int(parents.sum())}
    candidates = runs if include_parents else runs[~parents]
    score = pd.to_numeric(column(candidates, f"metrics.{metric}"), errors="coerce")
    if include_parents:
        best_child = pd.to_numeric(column(candidates, f"metrics.best_{metric}"), errors="coerce")
        score = score.where(score.notna() | ~parents[candidates.index], best_child)
    scored = candidates.assign(**{f"metrics.{metric}": score})[score.notna()]
    left_out[f"without {metric}"] = len(candidates) - len(scored)
    # A stable sort keeps the newest run first among equal scores (runs_table lists the newest first).
    return scored.sort_values(f"metrics.{metric}", ascending=False, kind="stable"), left_out


# Settings that say where a run logged and wrote, and what the champion gate demanded: the same model and scores
# whatever their values, so they do not tell two configurations apart.
NOT_CONFIGURATION = ("params.mlflow.", "params.paths.", "params.champion.", "params.evaluate.")
# Two runs of one configuration are reruns only on the same data and splits.
DATA_TAGS = ("tags.data_md5", "tags.splits_md5")


def configuration_keys(runs: pd.DataFrame) -> pd.Series:
    """A key per run that is equal for runs of the same configuration on the same data; a run that logged no
    settings (one logged by hand) has its own."""
    settings = sorted(
        name for name in runs.columns if name.startswith("params.") and not name.startswith(NOT_CONFIGURATION)
    )
    if not settings:
        return runs["run_id"].copy()
    logged = runs[settings].notna().any(axis=1)
    keys = (
        runs[settings + [name for name in DATA_TAGS if name in runs.columns]]
        .fillna("\x00")
        .astype(str)
        .agg("\x1f".join, axis=1)
    )
    return keys.where(logged, runs["run_id"])


def fold_reruns(
    ranked: pd.DataFrame, metric: str, champion_run_id: str | None = None
) -> tuple[pd.DataFrame, pd.Series]:
    """One run per configuration, in rank order, and how many runs each stands for.

    Same data, config and seed give the same scores, so a configuration trained again (`make run` after a code
    change that left the model alone, a sweep's job repeated by `make run`) would fill the table with copies.
    Each configuration is shown by the champion when it is one of its runs, else by its best run, and among runs
    with the best score by one that was evaluated (a sweep job and `make run` of one configuration: the table
    should show the test scores).
    """
    keys = configuration_keys(ranked)
    preference = pd.DataFrame(
        {
            "champion": ranked["run_id"].eq(champion_run_id),
            "score": pd.to_numeric(column(ranked, f"metrics.{metric}"), errors="coerce"),
            "scores logged": sum(column(ranked, f"metrics.{name}").notna() for name in TABLE_METRICS),
        },
        index=ranked.index,
    )
    # A stable sort: among equal preferences the rank order, newest first, decides.
    preferred = preference.sort_values(["champion", "score", "scores logged"], ascending=False, kind="stable")
    shown = ranked.index.isin(keys[preferred.index].drop_duplicates().index)
    return ranked[shown], keys[shown].map(keys.value_counts())


def first_present(*series: pd.Series) -> pd.Series:
    result = series[0]
    for fallback in series[1:]:
        result = result.where(result.notna(), fallback)
    return result


def comparison_rows(
    ranked: pd.DataFrame, metric: str, champion_run_id: str | None = None, run_counts: pd.Series | None = None
) -> pd.DataFrame:
    """The columns a person compares runs by, with plain names; scores stay numbers (NaN when missing).

    `run_counts`: how many runs of its configuration each row stands for, shown when any stands for more than one.
    """
    metrics = [metric, *(name for name in TABLE_METRICS if name != metric)]
    names = column(ranked, "tags.mlflow.runName").map(lambda name: shorten(name, MAX_NAME - len(CHAMPION_MARK)))
    rows = pd.DataFrame(
        {
            "#": range(1, len(ranked) + 1),
            "run": names.where(ranked["run_id"].ne(champion_run_id), names + CHAMPION_MARK),
            "model": first_present(column(ranked, "tags.model"), column(ranked, "params.model.name")),
            "features": first_present(column(ranked, "tags.features"), column(ranked, "params.features.name")),
            "key params": column(ranked, "params.model.key_params").map(shorten_numbers, na_action="ignore"),
        },
        index=ranked.index,
    )
    for name in metrics:
        rows[name] = pd.to_numeric(column(ranked, f"metrics.{name}"), errors="coerce")
    if run_counts is not None and (run_counts > 1).any():
        rows["runs"] = run_counts
    rows["run id"] = ranked["run_id"].str[:SHORT_ID]
    # Runs made by `dvc exp run` name their experiment: `dvc exp apply <name>` brings its workspace back.
    if column(ranked, "tags.dvc_experiment").notna().any():
        rows["dvc exp"] = column(ranked, "tags.dvc_experiment")
    return rows.reset_index(drop=True)


def runs_of_dvc_experiment(runs: pd.DataFrame, name: str) -> pd.DataFrame:
    chosen = runs[column(runs, "tags.dvc_experiment").eq(name)]
    if chosen.empty:
        named = sorted(column(runs, "tags.dvc_experiment").dropna().unique())
        raise UserInputError(
            f"no run of DVC experiment {name!r}; runs name these: {', '.join(named) or 'none (run dvc exp run first)'}"
        )
    return chosen


def shorten(text, width: int = MAX_NAME):
    if isinstance(text, str) and len(text) > width:
        return text[: width - 1] + "…"
    return text


def format_cell(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)) or value == "":
        return MISSING
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_table(rows: pd.DataFrame) -> str:
    """A plain-text table: text columns left-aligned, numbers right-aligned, missing values as '-'."""
    numeric = {name for name in rows.columns if pd.api.types.is_numeric_dtype(rows[name])}
    cells = [[format_cell(value) for value in row] for row in rows.astype(object).itertuples(index=False)]
    headers = [str(name) for name in rows.columns]
    widths = [max([len(header)] + [len(row[i]) for row in cells]) for i, header in enumerate(headers)]

    def line(values: list[str]) -> str:
        padded = [
            value.rjust(width) if name in numeric else value.ljust(width)
            for name, value, width in zip(rows.columns, values, widths, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return "\n".join([line(headers), line(["-" * width for width in widths]), *(line(row) for row in cells)])


def baseline_metric(metric: str) -> str | None:
    """The majority-class baseline logged beside a score: val_macro_f1 and test_macro_f1 -> baseline_macro_f1."""
    for prefix in ("val_", "test_"):
        if metric.startswith(prefix):
            return "baseline_" + metric.removeprefix(prefix)
    return None


def baseline_score(ranked: pd.DataFrame, metric: str) -> float | None:
    """The baseline of the best-ranked run that logged one (the evaluate stage logs it on the test split)."""
    name = baseline_metric(metric)
    if name is None:
        return None
    values = pd.to_numeric(column(ranked, f"metrics.{name}"), errors="coerce").dropna()
    return float(values.iloc[0]) if not values.empty else None


def comparison_chart(rows: pd.DataFrame, metric: str, title: str, baseline: float | None = None):
    """A horizontal bar per run, the best on top, with the majority-class baseline as a vertical line."""
    labels = [
        f"{run if isinstance(run, str) and run else MISSING}  ({run_id})"
        for run, run_id in zip(rows["run"], rows["run id"], strict=True)
    ]
    scores = rows[metric].astype(float)
    # A bare Figure renders with Agg and keeps no global pyplot state: no display needed. The constrained layout
    # keeps the long run names, the title and the legend (below the axis, off the bars) from overlapping.
    figure = Figure(figsize=(9, 1.9 + 0.42 * len(rows)), layout="constrained")
    axes = figure.subplots()
    positions = range(len(rows))[::-1]
    bars = axes.barh(list(positions), scores, color="#4c72b0", height=0.7)
    axes.bar_label(bars, labels=[f"{score:.3f}" for score in scores], padding=3, fontsize=9)
    axes.set_yticks(list(positions), labels, fontsize=9)
    if baseline is not None:
        axes.axvline(
            baseline,
            color="#c44e52",
            linestyle="--",
            linewidth=1.5,
            label=f"majority-class baseline, test split ({baseline:.3f})",
        )
        figure.legend(loc="outside lower center", fontsize=9, frameon=False)
    top = max([*scores, baseline or 0.0])
    # Room on the right for the score printed after the longest bar.
    axes.set_xlim(0, 1.08 if scores.min() >= 0 and top <= 1 else top * 1.12)
    axes.set_xlabel(metric)
    figure.suptitle(title, fontsize=11)
    axes.grid(axis="x", alpha=0.3)
    axes.set_axisbelow(True)
    return figure


def save_chart(figure, path: Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110)


def left_out_notes(left_out: dict[str, int], shown: pd.DataFrame, metric: str, include_parents: bool) -> list[str]:
    notes = []
    if include_parents and is_sweep_parent(shown).any():
        notes.append(f"Sweep parent runs without {metric} show best_{metric}, their best child's score")
    if left_out.get("sweep parents"):
        notes.append(f"{left_out['sweep parents']} sweep parent run(s) skipped (--include-parents to rank them)")
    for reason, count in left_out.items():
        if reason != "sweep parents" and count:
            notes.append(f"{count} run(s) {reason} not shown")
    return notes


def compare(args: argparse.Namespace) -> str:
    """Rank the runs, write the chart; return what to print."""
    runs = load_runs(args.tracking_uri, args.experiment)
    prepared = prepared_manifest()
    manifest = prepared if prepared is not None and experiment_of(prepared) == args.experiment else None
    # The prepared data set's (or, with nothing prepared, the shipped corpus's) chart keeps the plain name.
    is_default = manifest is not None or (prepared is None and args.experiment == DEFAULT_EXPERIMENT)
    metric = args.metric or selection_metric(manifest, runs)
    registered_model = registered_model_of(manifest, runs)
    splits, splits_are = ranked_splits(manifest, runs)
    # The experiment's runs first, so that the notes count only its own unfinished runs.
    if getattr(args, "dvc_exp", None):
        runs = runs_of_dvc_experiment(runs, args.dvc_exp)
    by_state: dict[str, int] = {}
    if not args.all_states:
        runs, by_state = finished_only(runs)
    on_other_splits = 0
    if not getattr(args, "all_data", False) and splits:
        runs, on_other_splits = on_prepared_splits(runs, *splits)
    ranked, left_out = rank_runs(runs, metric, args.include_parents)
    left_out.update({f"{state} (--all-states to include)": count for state, count in by_state.items()})
    left_out[f"on other data or splits than {splits_are} (--all-data to include)"] = on_other_splits
    if ranked.empty:
        raise UserInputError(
            f"no run of experiment {args.experiment!r} has {metric!r}: "
            + "; ".join(left_out_notes(left_out, ranked, metric, args.include_parents))
        )
    champion = champion_run(registered_model)
    champion_id = champion[0] if champion else None
    configurations, run_counts = (
        (ranked, None) if getattr(args, "every_run", False) else fold_reruns(ranked, metric, champion_id)
    )
    best = configurations.head(args.top)
    rows = comparison_rows(best, metric, champion_id, None if run_counts is None else run_counts[best.index])
    baseline = baseline_score(best, metric)
    chart = Path(args.chart) if args.chart else default_chart_path(metric, None if is_default else args.experiment)
    folded = len(ranked) - len(configurations)
    of = f"{len(configurations)} configurations ({len(ranked)} runs)" if folded else f"{len(ranked)} runs"
    title = f"{args.experiment}: best {len(rows)} of {of} by {metric}"
    save_chart(comparison_chart(rows, metric, title, baseline), chart)

    lines = [f"Best {len(rows)} of {of} in {args.experiment!r} by {metric} (higher is better)", ""]
    lines.append(format_table(rows))
    lines.append("")
    if baseline is not None:
        lines.append(f"Majority-class baseline ({baseline_metric(metric)}, test split): {baseline:.3f}")
    if folded:
        lines.append(
            f"{folded} rerun(s) of a configuration shown once, by its best run or the champion; 'runs' counts "
            "them (--every-run to list each)"
        )
    lines.extend(left_out_notes(left_out, best, metric, args.include_parents))
    if champion and champion[0] not in set(best["run_id"]):
        lines.append(f"The champion ({champion[1]}, run {champion[0][:SHORT_ID]}) is not among these runs")
    if others := other_data_sets(args.experiment):
        lines.append(f"Other data sets in this store: {', '.join(others)} (--experiment NAME)")
    lines.append(f"Chart: {chart}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    try:
        print(compare(args))
    except UserInputError as error:
        exit_with_user_error(error)
    except BrokenPipeError:
        sys.exit(reader_stopped_early())


if __name__ == "__main__":
    main()
