"""Bad labelled data is refused before training, with a message naming the file, the rows and the rule."""

import pandas as pd
import pytest

from pipeline.data.loading import TextFormat, load_statements
from pipeline.data.validation import StatementColumns, validate_statements
from pipeline.errors import DataValidationError, UserInputError

LABELS = ["pro-intervention", "anti-intervention", "neutral"]
COLUMNS = StatementColumns(text="text", label="label", id="id", group="source")


def validate(frame: pd.DataFrame, columns: StatementColumns = COLUMNS) -> pd.DataFrame:
    return validate_statements(frame, columns, LABELS, "statements.csv")


def test_clean_fixture_passes_in_standard_columns(statements):
    clean = validate(statements)
    assert list(clean.columns) == ["id", "text", "label", "group"]
    assert len(clean) == len(statements)


def test_missing_columns_are_named_with_what_the_file_has(statements):
    with pytest.raises(DataValidationError) as error:
        validate(statements.drop(columns=["label"]))
    message = str(error.value)
    assert "statements.csv" in message
    assert "missing column(s) ['label']" in message
    assert "'text'" in message  # what the file does have


def test_labels_outside_the_configured_set_are_listed_with_their_rows(statements):
    statements.loc[4, "label"] = "supportive"
    with pytest.raises(DataValidationError) as error:
        validate(statements)
    message = str(error.value)
    assert "['supportive']" in message
    assert "row 5 (id t-005)" in message
    assert "data.labels" in message


@pytest.mark.parametrize("blank", ["", "   ", "\t\n", None])
def test_empty_or_whitespace_text_is_refused(statements, blank):
    statements.loc[2, "text"] = blank
    with pytest.raises(DataValidationError) as error:
        validate(statements)
    assert "empty or whitespace-only text in row 3 (id t-003)" in str(error.value)


@pytest.mark.parametrize("blank", ["", None])
def test_an_empty_label_is_named_as_empty_not_as_an_unknown_label(statements, blank):
    statements.loc[3, "label"] = blank
    with pytest.raises(DataValidationError) as error:
        validate(statements)
    message = str(error.value)
    assert "empty label (column 'label', data.label_column) in row 4 (id t-004)" in message
    assert "outside the configured set" not in message and "1 problem(s)" in message


@pytest.mark.parametrize("blank", ["", " ", None])
def test_an_empty_group_is_refused_naming_the_rows_and_the_setting(statements, blank):
    # A spreadsheet with a few article ids left blank: the splitter cannot keep an unnamed group whole.
    statements["source"] = statements["source"].astype(object)
    statements.loc[[1, 6], "source"] = blank
    with pytest.raises(DataValidationError) as error:
        validate(statements)
    message = str(error.value)
    assert "empty group (column 'source', data.group_column) in row 2 (id t-002), row 7 (id t-007)" in message
    assert "data.group_column=null" in message


def test_an_empty_split_cell_is_refused_naming_the_rows(statements):
    statements["set"] = ["train"] * len(statements)
    statements.loc[4, "set"] = None
    columns = StatementColumns(text="text", label="label", id="id", split="set")
    expected = r"empty split \(column 'set', data.split.column\) in row 5 \(id t-005\)"
    with pytest.raises(DataValidationError, match=expected):
        validate(statements, columns)


def test_one_id_on_two_different_statements_is_refused(statements):
    statements.loc[5, "id"] = statements.loc[2, "id"]
    with pytest.raises(DataValidationError) as error:
        validate(statements)
    message = str(error.value)
    assert "1 id(s) (data.id_column) each name different statements: 't-003'" in message
    assert "row 3 (id t-003), row 6 (id t-003)" in message and "data.id_column=null" in message


def test_a_row_repeated_whole_is_a_duplicate_not_an_id_clash(statements):
    repeated = pd.concat([statements, statements.iloc[[2]]], ignore_index=True)
    assert len(validate(repeated)) == len(statements)


def test_the_same_text_with_different_labels_lists_the_ids(statements):
    conflicting = statements.iloc[[0]].assign(id="t-900", label="neutral", text="  " + statements.text[0].upper())
    with pytest.raises(DataValidationError) as error:
        validate(pd.concat([statements, conflicting], ignore_index=True))
    message = str(error.value)
    assert "different labels" in message
    assert "(id t-001, pro-intervention)" in message and "(id t-900, neutral)" in message


def test_every_problem_is_reported_at_once(statements):
    statements.loc[0, "label"] = "unknown"
    statements.loc[1, "text"] = " "
    with pytest.raises(DataValidationError) as error:
        validate(statements)
    assert "2 problem(s)" in str(error.value)


def test_duplicates_with_the_same_label_are_dropped_and_counted(statements, caplog):
    exact = statements.iloc[[0, 1]].assign(id=["d-1", "d-2"])
    normalised = statements.iloc[[2]].assign(id="d-3", text="  " + statements.text[2].lower().replace(" ", "   "))
    caplog.set_level("INFO")
    clean = validate(pd.concat([statements, exact, normalised], ignore_index=True))
    assert len(clean) == len(statements)
    assert not clean["id"].str.startswith("d-").any()
    assert "dropped 2 exact and 1 case/whitespace duplicate(s)" in caplog.text


def test_undecodable_bytes_name_the_file_and_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("id,text,label\n1,fine text here,neutral\n2,caf\xe9 owners protest,neutral\n".encode("latin-1"))
    with pytest.raises(UserInputError) as error:
        load_statements(str(path))
    message = str(error.value)
    assert str(path) in message and "line 3" in message and "UTF-8" in message


def test_missing_and_empty_files_are_user_errors(tmp_path):
    with pytest.raises(UserInputError, match="no such file"):
        load_statements(str(tmp_path / "absent.csv"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(UserInputError, match="empty"):
        load_statements(str(tmp_path / "empty.csv"))


def test_unsupported_file_type_is_a_user_error(tmp_path):
    path = tmp_path / "statements.xlsx"
    path.write_bytes(b"PK\x03\x04")
    with pytest.raises(UserInputError, match="unsupported file type '.xlsx'"):
        load_statements(str(path))


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".csv"])
def test_csv_json_lines_and_parquet_load_the_same_rows(statements, tmp_path, suffix):
    path = tmp_path / f"statements{suffix}"
    if suffix == ".jsonl":
        statements.to_json(path, orient="records", lines=True)
    elif suffix == ".parquet":
        statements.to_parquet(path, index=False)
    else:
        statements.to_csv(path, index=False)
    loaded = load_statements(str(path))
    pd.testing.assert_frame_equal(loaded[statements.columns].astype(str), statements.astype(str))


def test_a_dataset_folder_goes_through_the_hub_loading_path(statements, tmp_path):
    """A folder is loaded by name exactly as a hub dataset is, which works offline."""
    folder = tmp_path / "my-statements"
    folder.mkdir()
    statements.to_csv(folder / "train.csv", index=False)
    loaded = load_statements(str(folder), split="train")
    assert len(loaded) == len(statements)


def test_an_unreachable_hub_dataset_is_a_user_error():
    with pytest.raises(UserInputError, match="neither a local file nor a loadable dataset"):
        load_statements("no-such-org/no-such-dataset")


def test_utf16_without_a_byte_order_mark_is_a_user_error_with_the_fix(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("id,text,label\n1,fine text here,neutral\n".encode("utf-16-le"))
    with pytest.raises(UserInputError) as error:
        load_statements(str(path), text_format=TextFormat(encoding="utf-16"))
    message = str(error.value)
    assert str(path) in message and "cannot be read as utf-16" in message and "utf-16-le" in message
    assert len(load_statements(str(path), text_format=TextFormat(encoding="utf-16-le"))) == 1
