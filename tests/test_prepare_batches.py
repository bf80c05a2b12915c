"""The prepare stage reads the text a batch at a time: its splits are those of the whole-table algorithm, row for
row, whatever the batch size; its problems name the rows wherever they fall; its split files are written whole."""

import hashlib

import pandas as pd
import pytest
from conftest import FIXTURE_CSV, REPO, compose_config

from pipeline.data import prepared_data, statement_source
from pipeline.data.splitting import split_statements
from pipeline.data.stage_io import read_split, split_path, write_split_batches
from pipeline.errors import DataValidationError, UserInputError
from pipeline.prepare import write_prepared_splits

SPLITS = ("train", "validation", "test")
SMALL_BATCH = 3


def normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


def table_with_duplicates() -> tuple[pd.DataFrame, int, int]:
    """The fixture's statements towards two targets, with exact and case/spacing repeats scattered through the
    table (so that a repeat and its first row fall in different batches); with how many of each kind it holds."""
    base = pd.read_csv(FIXTURE_CSV)
    towards_alpha = base.assign(target="Alpha")
    towards_beta = base.iloc[:20].assign(target="Beta")  # the same texts towards another target: not repeats
    exact = towards_alpha.iloc[[0, 3, 8, 15, 22, 29, 35]]
    near = pd.concat(
        [
            towards_alpha.iloc[[1, 4, 9]].assign(text=lambda rows: rows["text"].str.upper()),
            towards_alpha.iloc[[2, 10]].assign(text=lambda rows: "  " + rows["text"].str.replace(" ", "\t  ")),
            towards_beta.iloc[[5, 6]].assign(target=" beta "),  # the same text, its target spelt differently
        ]
    )
    rows = pd.concat([towards_alpha, towards_beta, exact, near], ignore_index=True)
    rows = rows.sample(frac=1, random_state=4).reset_index(drop=True)
    return rows.assign(id=[f"r-{n:03d}" for n in range(len(rows))]), len(exact), len(near)


def expected_splits(table: pd.DataFrame, exact_repeats: int, near_repeats: int, seed: int) -> dict[str, pd.DataFrame]:
    """The splits worked out on the whole table with its full strings: the algorithm as it was before batches."""
    frame = table.rename(columns={"source": "group"})[["id", "text", "label", "group", "target"]]
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")  # a CSV file's rows, after its header row
    frame["target"] = frame["target"].str.strip()  # ' beta ' is target 'beta', as validation reads it
    exact = frame.duplicated(subset=["text", "label", "target"])
    rest = frame[~exact]
    keys = rest["target"].map(normalised) + "\x1f" + rest["text"].map(normalised)
    near = rest.assign(key=keys).duplicated(subset=["key", "label"])
    assert (exact.sum(), near.sum()) == (exact_repeats, near_repeats)  # the table holds what this test is about
    return split_statements(rest[~near], validation_size=0.15, test_size=0.15, seed=seed)


def test_batched_prepare_writes_the_splits_of_the_whole_table_algorithm(tmp_path, monkeypatch):
    table, exact_repeats, near_repeats = table_with_duplicates()
    path = tmp_path / "statements.csv"
    table.to_csv(path, index=False)
    processed = tmp_path / "processed"
    cfg = compose_config(
        [f"data.path={path}", "data.target_column=target", "data.extra_eval=[]", f"paths.processed={processed}"]
    )
    monkeypatch.setattr(statement_source, "BATCH_ROWS", SMALL_BATCH)
    write_prepared_splits(cfg)
    expected = expected_splits(table, exact_repeats, near_repeats, cfg.seed)
    for split in SPLITS:
        written = read_split(str(processed), split)
        assert len(written) > SMALL_BATCH, split  # written in several batches
        pd.testing.assert_frame_equal(written, expected[split], check_exact=True)


def test_fixed_splits_with_targets_do_not_depend_on_the_batch_size(tmp_path, monkeypatch):
    """The SemEval layout: a training and a test file, validation held out of training, targets."""
    overrides = ["data=semeval2016", f"data.path={REPO / 'tests' / 'fixtures' / 'semeval2016'}"]
    written = {}
    for batch_rows in (statement_source.BATCH_ROWS, SMALL_BATCH):
        monkeypatch.setattr(statement_source, "BATCH_ROWS", batch_rows)
        processed = tmp_path / str(batch_rows)
        write_prepared_splits(compose_config([*overrides, f"paths.processed={processed}"]))
        written[batch_rows] = {split: read_split(str(processed), split) for split in SPLITS}
    for split in SPLITS:
        pd.testing.assert_frame_equal(written[SMALL_BATCH][split], written[statement_source.BATCH_ROWS][split])


def test_problems_are_named_by_row_and_id_in_whichever_batch_they_fall(tmp_path, monkeypatch):
    monkeypatch.setattr(statement_source, "BATCH_ROWS", 5)
    fixture = pd.read_csv(FIXTURE_CSV)
    conflicting = fixture.iloc[[0]].assign(id="c-1", label="neutral", text="  " + fixture.text[0].upper())
    path = tmp_path / "conflict.csv"
    pd.concat([fixture, conflicting], ignore_index=True).to_csv(path, index=False)
    with pytest.raises(DataValidationError) as raised:
        write_prepared_splits(compose_config([f"data.path={path}", f"paths.processed={tmp_path / 'out'}"]))
    assert (
        f"conflict.csv: 1 problem(s):\n  - the same text has different labels in row 2 (id t-001, pro-intervention), "
        f"row {len(fixture) + 2} (id c-1, neutral): {fixture.text[0][:80]!r}"
    ) in str(raised.value)
    fixture.loc[32, "text"] = " \t "
    path = tmp_path / "empty.csv"
    fixture.to_csv(path, index=False)
    with pytest.raises(DataValidationError, match=r"empty or whitespace-only text in row 34 \(id t-033\);"):
        write_prepared_splits(compose_config([f"data.path={path}", f"paths.processed={tmp_path / 'out'}"]))
    assert not (tmp_path / "out").exists()


def test_a_failure_while_writing_a_split_leaves_every_earlier_split_file_as_it_was(tmp_path):
    processed = tmp_path / "processed"
    processed.mkdir()
    for split in SPLITS:
        split_path(str(processed), split).write_bytes(f"the previous {split} split".encode())
    frame = pd.read_csv(FIXTURE_CSV)

    def failing_batches():
        yield frame.iloc[:10]
        raise OSError("the disk went away")

    with pytest.raises(OSError, match="went away"):
        write_split_batches({"train": [frame], "validation": [frame], "test": failing_batches()}, str(processed))
    assert sorted(path.name for path in processed.iterdir()) == sorted(f"{split}.parquet" for split in SPLITS)
    for split in SPLITS:
        assert split_path(str(processed), split).read_bytes() == f"the previous {split} split".encode()


def test_the_data_digest_reads_files_in_chunks_to_the_same_md5(tmp_path, monkeypatch):
    monkeypatch.setattr(prepared_data, "DIGEST_CHUNK_BYTES", 5)
    data = FIXTURE_CSV.read_bytes()
    assert prepared_data.data_digest(str(FIXTURE_CSV)) == hashlib.md5(data).hexdigest()
    folder = tmp_path / "data"
    (folder / "part").mkdir(parents=True)
    (folder / "a.csv").write_bytes(data)
    (folder / "part" / "b.csv").write_bytes(data[:100])
    whole = hashlib.md5(b"a.csv\0" + data + b"part/b.csv\0" + data[:100]).hexdigest()
    assert prepared_data.data_digest(str(folder)) == whole


def test_data_re_saved_with_a_byte_order_mark_other_line_endings_and_quoting_prepares_the_same_splits(tmp_path):
    """Opening the data in a spreadsheet and saving it again changes the file's bytes, not its statements: the
    splits and the manifest (what the train stage's DVC dependencies and the runs' data_md5 come from) stay the
    same, so nothing is retrained. A changed statement is other data."""
    frame = pd.read_csv(FIXTURE_CSV)
    re_saved = tmp_path / "re-saved.csv"
    re_saved.write_bytes(b"\xef\xbb\xbf" + frame.to_csv(index=False, quoting=1, lineterminator="\r\n").encode())
    reworded = tmp_path / "reworded.csv"
    frame.assign(text=frame["text"].where(frame.index != 5, frame["text"] + " Indeed.")).to_csv(reworded, index=False)

    def prepared(path, name) -> tuple[dict, dict]:
        processed = tmp_path / name
        write_prepared_splits(compose_config([f"data.path={path}", f"paths.processed={processed}"]))
        files = {split: split_path(str(processed), split).read_bytes() for split in SPLITS}
        return files, prepared_data.read_manifest(str(processed))

    original_files, original = prepared(FIXTURE_CSV, "original")
    re_saved_files, re_saved_manifest = prepared(re_saved, "re-saved")
    assert re_saved_files == original_files
    assert re_saved_manifest["digest"] == original["digest"]
    assert prepared_data.data_digest(str(re_saved)) != prepared_data.data_digest(str(FIXTURE_CSV))
    reworded_files, reworded_manifest = prepared(reworded, "reworded")
    assert reworded_manifest["digest"] != original["digest"]
    assert prepared_data.manifest_splits_digest(reworded_manifest) != prepared_data.manifest_splits_digest(original)


def test_a_data_set_naming_the_registered_model_of_the_one_prepared_before_is_refused_before_any_split(tmp_path):
    """A data config copied from another that kept its registered_model: the train stage would refuse it, after
    prepare had replaced the splits; prepare refuses it first, and the earlier splits stay."""
    processed = tmp_path / "processed"
    write_prepared_splits(compose_config([f"data.path={FIXTURE_CSV}", f"paths.processed={processed}"]))
    before = {path.name: path.read_bytes() for path in processed.iterdir()}
    copied = [f"data.path={FIXTURE_CSV}", f"paths.processed={processed}", "data.name=my-quotes"]
    with pytest.raises(
        UserInputError,
        match=r"data.registered_model=stance-classifier: that is the registered model "
        r"of data set 'intervention-statements' .* data.registered_model=stance-my-quotes",
    ):
        write_prepared_splits(compose_config(copied))
    assert {path.name: path.read_bytes() for path in processed.iterdir()} == before
    write_prepared_splits(compose_config([*copied, "data.registered_model=stance-my-quotes"]))
    assert prepared_data.read_manifest(str(processed))["data"]["name"] == "my-quotes"
