"""Split invariants: disjoint, complete, stratified, groups whole, and the same for the same seed."""

import numpy as np
import pandas as pd
import pytest

from pipeline.data.splitting import split_statements
from pipeline.errors import UserInputError

LABELS = ["pro-intervention", "anti-intervention", "neutral"]


def synthetic_statements(rows: int = 600, groups: int | None = 60, seed: int = 0) -> pd.DataFrame:
    generator = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "id": [f"s-{n}" for n in range(rows)],
            "text": [f"statement number {n}" for n in range(rows)],
            "label": generator.choice(LABELS, size=rows, p=[0.3, 0.3, 0.4]),
        }
    )
    if groups:
        frame["group"] = generator.integers(0, groups, size=rows).astype(str)
    return frame


@pytest.mark.parametrize("groups", [None, 60])
def test_splits_are_disjoint_and_complete(groups):
    frame = synthetic_statements(groups=groups)
    splits = split_statements(frame, validation_size=0.15, test_size=0.15, seed=7)
    texts = [set(split["text"]) for split in splits.values()]
    assert sum(len(t) for t in texts) == len(frame)
    assert set.union(*texts) == set(frame["text"])
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])


@pytest.mark.parametrize("groups", [None, 60])
def test_sizes_follow_the_configured_fractions(groups):
    frame = synthetic_statements(groups=groups)
    splits = split_statements(frame, validation_size=0.15, test_size=0.15, seed=7)
    for name in ("validation", "test"):
        assert abs(len(splits[name]) / len(frame) - 0.15) < 0.04, name


@pytest.mark.parametrize("groups", [None, 60])
def test_label_proportions_are_kept_in_every_split(groups):
    frame = synthetic_statements(groups=groups)
    overall = frame["label"].value_counts(normalize=True)
    for name, split in split_statements(frame, 0.15, 0.15, seed=3).items():
        share = split["label"].value_counts(normalize=True).reindex(LABELS, fill_value=0)
        tolerance = 0.02 if groups is None else 0.08  # whole groups make exact stratification impossible
        assert (share - overall.reindex(LABELS)).abs().max() < tolerance, name


def test_no_group_spans_two_splits():
    splits = split_statements(synthetic_statements(groups=60), 0.15, 0.15, seed=11)
    owners = {}
    for name, split in splits.items():
        for group in split["group"].unique():
            assert owners.setdefault(group, name) == name, f"group {group} in {owners[group]} and {name}"


def test_same_seed_same_split_other_seed_other_split():
    frame = synthetic_statements()
    first = split_statements(frame, 0.15, 0.15, seed=5)
    again = split_statements(frame, 0.15, 0.15, seed=5)
    other = split_statements(frame, 0.15, 0.15, seed=6)
    for name in first:
        pd.testing.assert_frame_equal(first[name], again[name])
    assert not first["test"]["id"].equals(other["test"]["id"])


def test_impossible_fractions_and_rare_labels_are_user_errors():
    frame = synthetic_statements(groups=None)
    with pytest.raises(UserInputError, match="split.test_size"):
        split_statements(frame, validation_size=0.5, test_size=0.6, seed=0)
    rare = pd.concat([frame, frame.iloc[:2].assign(label="other", text=["x y", "y z"])], ignore_index=True)
    with pytest.raises(UserInputError, match=r"label\(s\) 'other' \(2\) have fewer than 3 statements"):
        split_statements(rare, 0.15, 0.15, seed=0)


def test_too_few_groups_is_a_user_error():
    with pytest.raises(UserInputError, match="distinct groups"):
        split_statements(synthetic_statements(rows=60, groups=3), 0.15, 0.15, seed=0)
