"""A data set's own splits are checked against each other, as one file's rows are: a statement labelled differently in
two splits, or an id naming different statements in two, stops prepare before any split is written; a statement
repeated with its label stays only in the split reported on; a group in two splits is warned about."""

from pathlib import Path

import pandas as pd
import pytest
from conftest import FIXTURE_CSV, compose_config

from pipeline.errors import DataValidationError
from pipeline.prepare import prepare, write_prepared_splits

SPLIT_FILES = ("train", "validation", "test")


def fixture_splits() -> dict[str, pd.DataFrame]:
    """The fixture's statements as three split files' rows: sources 1-5 train, 6-7 validation, 8-9 test, every label
    in each. A file's first statement is its row 2, after the header."""
    frame = pd.read_csv(FIXTURE_CSV)
    return {"train": frame.iloc[:20], "validation": frame.iloc[20:28], "test": frame.iloc[28:]}


def own_splits_config(folder: Path, splits: dict[str, pd.DataFrame], *overrides: str):
    folder.mkdir(exist_ok=True)
    for name, rows in splits.items():
        rows.to_csv(folder / f"{name}.csv", index=False)
    files = [f"data.split.files.{name}={name}.csv" for name in SPLIT_FILES]
    return compose_config([f"data.path={folder}", "data.split.kind=files", *files, "data.extra_eval=[]", *overrides])


def with_row(rows: pd.DataFrame, row: pd.DataFrame) -> pd.DataFrame:
    return pd.concat([rows, row], ignore_index=True)


def test_a_statement_labelled_differently_in_train_and_test_is_refused_naming_both_files_and_rows(tmp_path):
    splits = fixture_splits()
    first_test = splits["test"].iloc[[0]]  # t-029, anti-intervention, test.csv row 2
    relabelled = first_test.assign(id="c-1", label="neutral", text=first_test["text"].str.upper())
    splits["train"] = with_row(splits["train"], relabelled)  # train.csv row 22
    with pytest.raises(DataValidationError) as raised:
        prepare(own_splits_config(tmp_path / "data", splits))
    message = str(raised.value)
    assert message.startswith(f"{tmp_path / 'data'}: 1 problem(s) across its splits (data.split.kind=files):")
    assert (
        "the same text has different labels in train.csv row 22 (id c-1, neutral), "
        f"test.csv row 2 (id t-029, anti-intervention): {relabelled['text'].iloc[0]!r}"
    ) in message


def test_a_statement_labelled_differently_in_validation_and_test_is_refused(tmp_path):
    splits = fixture_splits()
    first_test = splits["test"].iloc[[0]]
    splits["validation"] = with_row(splits["validation"], first_test.assign(id="c-1", label="pro-intervention"))
    with pytest.raises(DataValidationError) as raised:
        prepare(own_splits_config(tmp_path / "data", splits))
    assert (
        "the same text has different labels in validation.csv row 10 (id c-1, pro-intervention), "
        "test.csv row 2 (id t-029, anti-intervention)"
    ) in str(raised.value)


def test_a_validation_statement_repeated_in_test_is_dropped_from_validation_with_a_warning(tmp_path, caplog):
    splits = fixture_splits()
    first_test = splits["test"].iloc[[0]]
    splits["validation"] = with_row(splits["validation"], first_test.assign(id="v-1", text=" " + first_test["text"]))
    caplog.set_level("WARNING")
    prepared = prepare(own_splits_config(tmp_path / "data", splits))
    assert "v-1" not in set(prepared["validation"]["id"]) and "t-029" in set(prepared["test"]["id"])
    assert len(prepared["validation"]) == len(fixture_splits()["validation"])
    assert "dropped 1 validation statement(s) that repeat a test statement" in caplog.text


def test_one_id_naming_different_statements_in_two_split_files_is_refused(tmp_path):
    splits = fixture_splits()
    splits["test"] = splits["test"].replace({"id": {"t-030": "t-001"}})  # test.csv row 3; train.csv row 2
    with pytest.raises(DataValidationError) as raised:
        prepare(own_splits_config(tmp_path / "data", splits))
    assert (
        "1 id(s) (data.id_column) each name different statements: 't-001', in train.csv row 2 (id t-001), "
        "test.csv row 3 (id t-001); expected one id per statement"
    ) in str(raised.value)


def test_numbered_rows_may_share_numbers_across_split_files(tmp_path):
    """With data.id_column=null each file's rows are numbered from its own first row: no clash."""
    prepared = prepare(own_splits_config(tmp_path / "data", fixture_splits(), "data.id_column=null"))
    assert set(prepared["train"]["id"]) & set(prepared["test"]["id"])


def test_a_group_in_two_of_the_data_sets_own_splits_is_a_warning_naming_it_and_its_files(tmp_path, caplog):
    splits = fixture_splits()
    moved = splits["test"]["id"] == "t-030"  # a src-8 statement, into train: src-8 is in train and test
    splits["train"] = with_row(splits["train"], splits["test"][moved])
    splits["test"] = splits["test"][~moved]
    caplog.set_level("WARNING")
    prepared = prepare(own_splits_config(tmp_path / "data", splits))
    assert "t-030" in set(prepared["train"]["id"])
    assert (
        "1 group(s) (column 'source', data.group_column) have statements in more than one split: "
        "'src-8' (train.csv, test.csv)"
    ) in caplog.text
    caplog.clear()
    prepare(own_splits_config(tmp_path / "whole", fixture_splits()))
    assert "group(s)" not in caplog.text


def test_a_split_column_that_divides_a_group_is_a_warning_naming_its_values(tmp_path, caplog):
    frame = pd.read_csv(FIXTURE_CSV).assign(part="train")
    frame.loc[frame["source"].isin(["src-6", "src-7"]), "part"] = "validation"
    frame.loc[frame["source"].isin(["src-8", "src-9"]) & (frame["id"] != "t-030"), "part"] = "test"
    path = tmp_path / "with_split.csv"
    frame.to_csv(path, index=False)
    caplog.set_level("WARNING")
    overrides = ["data.split.kind=column", "data.split.column=part", "data.extra_eval=[]"]
    prepare(compose_config([f"data.path={path}", *overrides]))
    assert "1 group(s) (column 'source', data.group_column) have statements in more than one split: " in caplog.text
    assert "'src-8' (part='train', part='test')" in caplog.text and "data.split.kind=column" in caplog.text


def test_problems_across_splits_stop_prepare_before_an_earlier_prepared_folder_changes(tmp_path):
    processed = tmp_path / "processed"
    write_prepared_splits(own_splits_config(tmp_path / "good", fixture_splits(), f"paths.processed={processed}"))
    before = {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in processed.iterdir()}
    assert len(before) > len(SPLIT_FILES)  # the three splits and the manifest
    splits = fixture_splits()
    splits["train"] = with_row(splits["train"], splits["test"].iloc[[0]].assign(id="c-1", label="neutral"))
    splits["test"] = splits["test"].replace({"id": {"t-030": "t-002"}})
    with pytest.raises(DataValidationError, match=r"2 problem\(s\) across its splits"):
        write_prepared_splits(own_splits_config(tmp_path / "bad", splits, f"paths.processed={processed}"))
    assert {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in processed.iterdir()} == before


def test_a_statement_under_two_values_of_a_split_column_stays_in_the_split_reported_on(tmp_path, caplog):
    """As with split files: the test copy is kept, whichever row comes first in the file."""
    frame = pd.read_csv(FIXTURE_CSV).assign(part="train")
    frame.loc[frame["source"].isin(["src-6", "src-7"]), "part"] = "validation"
    frame.loc[frame["source"].isin(["src-8", "src-9"]), "part"] = "test"
    test_row = frame[frame["part"] == "test"].iloc[[0]]
    repeated = pd.concat([test_row.assign(part="train"), frame], ignore_index=True)  # the train copy comes first
    path = tmp_path / "with_split.csv"
    repeated.to_csv(path, index=False)
    caplog.set_level("WARNING")
    overrides = ["data.split.kind=column", "data.split.column=part", "data.extra_eval=[]"]
    prepared = prepare(compose_config([f"data.path={path}", *overrides]))
    statement = test_row["id"].iloc[0]
    assert statement in set(prepared["test"]["id"]) and statement not in set(prepared["train"]["id"])
    assert len(prepared["test"]) == (frame["part"] == "test").sum()
    assert "dropped 1 training statement(s) that repeat a validation or test statement" in caplog.text
