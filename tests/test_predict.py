"""stance-predict and the Python API: articles, folders, statement tables, standard input, model references, bad input.

Most cases call `predict.main` in this process with a small model trained once on the fixture; a few run the real
command in a subprocess, and the MLflow cases use a temporary registry holding that same model.
"""

import html
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURE_CSV, REPO, assert_one_line_error, compose_config, stance_predict

from pipeline import predict
from pipeline.articles.quotes import extract_quotes
from pipeline.errors import UserInputError
from pipeline.inference import load_champion, load_model
from pipeline.train import fit_classifier, save_classifier

SEED = REPO / "seeds" / "000_0a13e2fcd2c43a4f.txt"
LABELS = {"pro-intervention", "anti-intervention", "neutral"}
PROBABILITIES = [f"p({label})" for label in sorted(LABELS)]
SECOND_ARTICLE = (
    "Aid agencies warned on Monday that the offensive would displace thousands.\n\n"
    "“The bombing must stop before the winter sets in”, said Maria Lopez, a spokeswoman for the agency.\n"
)


@pytest.fixture(scope="session")
def small_model(tmp_path_factory) -> Path:
    """The default features and model fitted on the fixture, saved as the train stage saves it."""
    classifier = fit_classifier(compose_config(), pd.read_csv(FIXTURE_CSV))
    path = tmp_path_factory.mktemp("model") / "classifier.skops"
    save_classifier(classifier, str(path))
    return path


@pytest.fixture(scope="module")
def registry(small_model, tmp_path_factory) -> SimpleNamespace:
    """A temporary MLflow store where the small model is version 1 of stance-classifier and holds @champion."""
    import mlflow

    from pipeline import tracking

    folder = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    classifier = load_model(small_model).classifier
    mlflow.set_tracking_uri(uri)
    try:
        experiment = mlflow.create_experiment("predict-tests", artifact_location=(folder / "artifacts").as_uri())
        with mlflow.start_run(experiment_id=experiment) as run:
            model_uri = tracking.log_model(classifier, pd.DataFrame({"text": ["The strikes must stop."]}), "text", None)
        version = tracking.register_model(model_uri, "stance-classifier")
        tracking.set_alias("stance-classifier", "champion", version)
        directory = mlflow.artifacts.download_artifacts(model_uri, dst_path=str(folder / "downloaded"))
    finally:
        mlflow.set_tracking_uri(None)
    return SimpleNamespace(
        uri=uri,
        run_id=run.info.run_id,
        # Logged models are named after their run.
        run_model_uri=f"runs:/{run.info.run_id}/{tracking.logged_model_name(run.info.run_name)}",
        model_uri=model_uri,
        version=version,
        directory=directory,
    )


@pytest.fixture(autouse=True)
def isolated_environment():
    """Loading from MLflow sets its global tracking URI (and MLFLOW_TRACKING_URI); the CLI sets HTTP defaults."""
    saved = dict(os.environ)
    yield
    if "mlflow" in sys.modules:
        sys.modules["mlflow"].set_tracking_uri(None)
    os.environ.clear()
    os.environ.update(saved)


cli = stance_predict  # the tests below read better with the short name


def rows(jsonl: str) -> pd.DataFrame:
    return pd.DataFrame([json.loads(line) for line in jsonl.splitlines()])


def write_article(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- Articles ----------------------------------------------------------------------------------------------------


def test_the_founding_article_gets_every_direct_quote_with_its_speaker(small_model):
    """The real command, in a subprocess: one JSON line per direct quote of the seed article."""
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.predict", str(SEED), "--model", str(small_model)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    tagged = rows(result.stdout)
    quotes = extract_quotes(SEED.read_text(encoding="utf-8"))
    assert len(quotes) == 6
    assert list(tagged.columns) == ["article", "text", "start", "end", "speaker", "kind", "label", *PROBABILITIES]
    assert set(tagged["article"]) == {str(SEED)}
    assert list(tagged["text"]) == [quote.text for quote in quotes]
    assert [json.loads(line)["speaker"] for line in result.stdout.splitlines()] == [quote.speaker for quote in quotes]
    assert list(tagged["start"]) == [quote.start for quote in quotes]
    assert list(tagged["end"]) == [quote.end for quote in quotes]
    assert set(tagged["kind"]) == {"direct"}
    assert set(tagged["label"]) <= LABELS
    np.testing.assert_allclose(tagged[PROBABILITIES].sum(axis=1), 1.0)
    assert "Lavrov" in set(tagged["speaker"]) and "Hassan Haj Ali" in set(tagged["speaker"])


def test_a_folder_tags_each_txt_article_in_name_order(small_model, tmp_path, capsys):
    shutil.copy(SEED, tmp_path / "a_seed.txt")
    write_article(tmp_path, "b_aid.txt", SECOND_ARTICLE)
    write_article(tmp_path, "notes.csv", "not,an,article\n")  # only .txt files in a folder are articles
    code, out, err = cli(capsys, str(tmp_path), "--model", str(small_model))
    assert code == 0, err
    tagged = rows(out)
    assert list(dict.fromkeys(tagged["article"])) == [str(tmp_path / "a_seed.txt"), str(tmp_path / "b_aid.txt")]
    aid = tagged[tagged["article"] == str(tmp_path / "b_aid.txt")]
    assert list(aid["speaker"]) == ["Maria Lopez"]
    assert aid["text"].iloc[0] == "The bombing must stop before the winter sets in"


def test_a_folders_empty_file_or_empty_page_is_skipped_with_a_warning_but_one_named_outright_is_an_error(
    small_model, tmp_path, capsys
):
    """A CMS export holds placeholders: one must not stop a folder of hundreds of articles."""
    write_article(tmp_path, "a_aid.txt", SECOND_ARTICLE)
    (tmp_path / "b_placeholder.txt").touch()
    write_article(tmp_path, "c_menu.html", "<html><nav><p>Home</p></nav><script>a()</script></html>")
    code, out, err = cli(capsys, str(tmp_path), "--model", str(small_model))
    assert code == 0, err
    assert list(rows(out)["article"]) == [str(tmp_path / "a_aid.txt")]
    assert err.strip().splitlines() == [
        f"warning: {tmp_path / 'b_placeholder.txt'}: the file is empty; expected an article as UTF-8 text; skipped",
        f"warning: {tmp_path / 'c_menu.html'}: the web page holds no text outside scripts, styles and page furniture; "
        "skipped",
    ]
    code, _, err = cli(capsys, str(tmp_path / "a_aid.txt"), str(tmp_path / "c_menu.html"), "--model", str(small_model))
    assert_one_line_error(code, err, str(tmp_path / "c_menu.html"), "holds no text")


def as_web_page(article: str) -> str:
    """The article as a news site serves it: paragraphs in <p>, quote marks as entities, page furniture around."""
    paragraphs = "".join(f"<p>{html.escape(paragraph)}</p>\n" for paragraph in article.split("\n\n"))
    paragraphs = paragraphs.replace("“", "&ldquo;").replace("”", "&#8221;")
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><script>var s = "\\"Hi,\\" said the script";</script>'
        '</head><body><nav><a href="/">Home</a></nav><article>\n'
        + paragraphs
        + '</article><aside><p>"A teaser," said somebody else.</p></aside><footer>&copy; 2015</footer></body></html>'
    )


def test_a_web_page_is_tagged_like_its_text(small_model, tmp_path, capsys):
    seed = SEED.read_text(encoding="utf-8")
    write_article(tmp_path, "a_seed.html", as_web_page(seed))
    write_article(tmp_path, "b_aid.txt", SECOND_ARTICLE)
    _, from_text, _ = cli(capsys, str(SEED), "--model", str(small_model))
    code, out, err = cli(capsys, str(tmp_path), "--model", str(small_model))
    assert code == 0, err
    tagged = rows(out)
    assert list(dict.fromkeys(tagged["article"])) == [str(tmp_path / "a_seed.html"), str(tmp_path / "b_aid.txt")]
    page, text = tagged[tagged["article"] == str(tmp_path / "a_seed.html")], rows(from_text)
    # The same quotes, speakers and labels; nothing from the script, the menu or the teaser beside the article.
    for column in ("text", "speaker", "kind", "label"):
        assert list(page[column]) == list(text[column])


def test_pages_in_other_encodings_are_read_as_they_declare(small_model, tmp_path, capsys):
    """A folder of pages saved from several sites: each is decoded by its own <meta charset>; --encoding overrides."""
    quote = "<p>\u201cWe will not abandon our allies,\u201d Sergei Lavrov said.</p>"
    western = f'<html><head><meta charset="windows-1252"></head><body>{quote}</body></html>'.encode("cp1252")
    (tmp_path / "a_western.html").write_bytes(western)
    write_article(tmp_path, "b_utf8.html", f"<html><body>{quote}</body></html>")
    code, out, err = cli(capsys, str(tmp_path), "--model", str(small_model))
    assert code == 0, err
    tagged = rows(out)
    assert list(tagged["text"]) == ["We will not abandon our allies"] * 2
    assert list(tagged["speaker"]) == ["Sergei Lavrov"] * 2
    code, _, err = cli(capsys, str(tmp_path / "a_western.html"), "--model", str(small_model), "--encoding", "utf-8")
    assert_one_line_error(code, err, "a_western.html", "not valid utf-8")


def test_indirect_speech_only_when_asked(small_model, capsys):
    _, direct, _ = cli(capsys, str(SEED), "--model", str(small_model))
    code, everything, err = cli(capsys, str(SEED), "--model", str(small_model), "--indirect")
    assert code == 0, err
    assert set(rows(direct)["kind"]) == {"direct"}
    indirect = rows(everything).query("kind == 'indirect'")
    assert len(indirect) > 0 and "Vladimir Putin" in set(indirect["speaker"])


def test_an_article_without_quotes_is_named_in_a_warning_and_the_others_are_tagged(small_model, tmp_path, capsys):
    quiet = write_article(tmp_path, "quiet.txt", "Nobody was quoted in this report about the convoy.\n")
    code, out, err = cli(capsys, str(quiet), str(SEED), "--model", str(small_model))
    assert code == 0
    assert f"warning: {quiet}: no quotes found" in err
    assert set(rows(out)["article"]) == {str(SEED)}


def test_nothing_to_tag_exits_2_and_leaves_no_output_file(small_model, tmp_path, capsys):
    quiet = write_article(tmp_path, "quiet.txt", "Nobody was quoted in this report about the convoy.\n")
    output = tmp_path / "out" / "tagged.jsonl"
    code, out, err = cli(capsys, str(quiet), "--model", str(small_model), "-o", str(output))
    assert code == 2 and out == ""
    assert f"warning: {quiet}: no quotes found" in err and f"error: no quotes found in {quiet}" in err
    assert not output.exists() and list(output.parent.iterdir()) == []


# --- Statement tables --------------------------------------------------------------------------------------------


def statements_in(suffix: str, folder: Path, frame: pd.DataFrame) -> Path:
    path = folder / f"statements{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".tsv":
        frame.to_csv(path, index=False, sep="\t")
    elif suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, force_ascii=False)
    elif suffix == ".json":
        frame.to_json(path, orient="records", force_ascii=False)
    else:
        frame.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".jsonl", ".json", ".parquet"])
def test_a_statements_table_keeps_its_rows_and_gains_label_and_probabilities(small_model, tmp_path, capsys, suffix):
    frame = pd.read_csv(FIXTURE_CSV).rename(columns={"label": "gold"})
    path = statements_in(suffix, tmp_path, frame)
    code, out, err = cli(capsys, str(path), "--model", str(small_model))
    assert code == 0, err
    tagged = rows(out)
    assert list(tagged.columns) == [*frame.columns, "label", *PROBABILITIES]
    assert list(tagged["id"]) == list(frame["id"]) and list(tagged["text"]) == list(frame["text"])
    expected = load_model(small_model).tag(list(frame["text"]))
    assert list(tagged["label"]) == list(expected["label"])
    # The command rounds probabilities to a sensible number of digits.
    rounded = expected[PROBABILITIES].round(predict.PROBABILITY_DIGITS)
    np.testing.assert_array_equal(tagged[PROBABILITIES].to_numpy(), rounded.to_numpy())


def test_a_semicolon_separated_table_needs_and_takes_its_delimiter(small_model, tmp_path, capsys):
    frame = pd.read_csv(FIXTURE_CSV).drop(columns=["label"])
    path = tmp_path / "excel.csv"
    frame.to_csv(path, sep=";", index=False)
    code, _, err = cli(capsys, str(path), "--model", str(small_model))
    assert_one_line_error(code, err, str(path), "set --delimiter=semicolon")
    code, out, err = cli(capsys, str(path), "--model", str(small_model), "--delimiter", ";")
    assert code == 0, err
    assert list(rows(out)["id"]) == list(frame["id"])


def test_text_column_batches_and_label_column(small_model, tmp_path, capsys):
    frame = pd.read_csv(FIXTURE_CSV).rename(columns={"text": "quote"})
    path = statements_in(".csv", tmp_path, frame.drop(columns="label"))
    code, whole, err = cli(capsys, str(path), "--model", str(small_model), "--text-column", "quote")
    assert code == 0, err
    code, batched, _ = cli(
        capsys, str(path), "--model", str(small_model), "--text-column", "quote", "--batch-size", "5"
    )
    assert code == 0 and batched == whole
    labelled = statements_in(".tsv", tmp_path, frame)
    code, renamed, _ = cli(
        capsys, str(labelled), "--model", str(small_model), "--text-column", "quote", "--label-column", "predicted"
    )
    assert code == 0
    tagged = rows(renamed)
    assert list(tagged["label"]) == list(frame["label"])  # the file's own labels, untouched
    assert list(tagged["predicted"]) == list(rows(whole)["label"].rename("predicted"))


def test_a_column_of_numbers_is_refused_as_the_text_column_before_anything_is_written(small_model, tmp_path, capsys):
    """A CSV reads every cell as text, so `--text-column id` would tag "17" as a statement without a word."""
    frame = pd.read_csv(FIXTURE_CSV).drop(columns="label").assign(id=lambda table: range(17, 17 + len(table)))
    path = statements_in(".csv", tmp_path, frame)
    output = tmp_path / "tagged.csv"
    code, out, err = cli(capsys, str(path), "--model", str(small_model), "--text-column", "id", "-o", str(output))
    assert_one_line_error(code, err, str(path), "column 'id' holds only numbers (e.g. row 2: '17')", "--text-column")
    assert not output.exists()
    # A statement that is a number, among real ones, is tagged: only a column of numbers alone is refused.
    frame.loc[3, "text"] = "2015"
    code, out, err = cli(capsys, str(statements_in(".csv", tmp_path, frame)), "--model", str(small_model))
    assert code == 0, err
    assert len(rows(out)) == len(frame)


def with_empty_statements(frame: pd.DataFrame, positions: list[int]) -> pd.DataFrame:
    """Blank statements in several forms: an empty cell, spaces only, and (in JSON and Parquet) a missing value."""
    frame = frame.astype({"text": object})
    for number, position in enumerate(positions):
        frame.loc[position, "text"] = ["", "   ", None][number % 3]
    return frame


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_empty_statements_are_named_before_anything_is_tagged(small_model, tmp_path, capsys, suffix):
    """The whole column is checked first: a blank last row is not found after the batches before it were tagged
    and written (to standard output they used to be, before the error)."""
    frame = pd.read_csv(FIXTURE_CSV).drop(columns="label")
    last = len(frame) - 1
    path = statements_in(suffix, tmp_path, with_empty_statements(frame, [last, 7, 9, 10, 11, 12, 13]))
    code, out, err = cli(capsys, str(path), "--model", str(small_model), "--batch-size", "5")
    row = "line" if suffix == ".jsonl" else "row"
    first = 2 if suffix == ".csv" else 1  # a CSV's rows as a spreadsheet numbers them, below the header
    shown = ", ".join(str(position + first) for position in [7, 9, 10, 11, 12])
    assert_one_line_error(
        code, err, str(path), f"column 'text' is empty in 7 {row}s ({shown} and 2 more)", "--skip-empty"
    )
    assert out == ""
    path = statements_in(suffix, tmp_path, with_empty_statements(frame, [last]))
    code, out, err = cli(capsys, str(path), "--model", str(small_model), "--batch-size", "5")
    assert_one_line_error(code, err, str(path), f"{row} {last + first}: column 'text' is empty; expected a statement")
    assert out == ""


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_skip_empty_tags_the_other_rows_and_leaves_the_blank_ones_in_place_untagged(
    small_model, tmp_path, capsys, suffix
):
    frame = pd.read_csv(FIXTURE_CSV).drop(columns="label")
    blank = [0, 6, len(frame) - 1]
    path = statements_in(suffix, tmp_path, with_empty_statements(frame, blank))
    code, out, err = cli(capsys, str(path), "--model", str(small_model), "--batch-size", "4", "--skip-empty")
    assert code == 0, err
    first = 2 if suffix == ".csv" else 1
    row = "line" if suffix == ".jsonl" else "row"
    numbers = ", ".join(str(position + first) for position in blank)
    assert err.strip() == f"warning: {path}: 3 {row}s ({numbers}) with an empty statement left untagged (no label)"
    tagged = rows(out)
    assert list(tagged["id"]) == list(frame["id"])  # every row, in its place
    assert tagged.loc[blank, ["label", *PROBABILITIES]].isna().all().all()
    kept = tagged.drop(index=blank)
    expected = load_model(small_model).tag(list(frame.drop(index=blank)["text"]))
    assert list(kept["label"]) == list(expected["label"])
    rounded = expected[PROBABILITIES].round(predict.PROBABILITY_DIGITS)
    np.testing.assert_array_equal(kept[PROBABILITIES].to_numpy(), rounded.to_numpy())


def test_a_statement_that_is_not_text_is_refused_even_with_skip_empty(small_model, tmp_path, capsys):
    path = tmp_path / "numbers.jsonl"
    path.write_text('{"text": "We must act."}\n{"text": 5}\n', encoding="utf-8")
    code, _, err = cli(capsys, str(path), "--model", str(small_model), "--skip-empty")
    assert_one_line_error(code, err, str(path), "line 2: column 'text' is 5; expected a statement")


def test_a_table_that_already_has_a_label_column_asks_for_another_name(small_model, capsys):
    code, out, err = cli(capsys, str(FIXTURE_CSV), "--model", str(small_model))
    assert_one_line_error(code, err, str(FIXTURE_CSV), "'label'", "--label-column")
    assert out == ""


# --- Standard input and output formats ----------------------------------------------------------------------------


def test_standard_input_is_one_article(small_model, capsys, monkeypatch):
    code, out, err = cli(capsys, "-", "--model", str(small_model), stdin=SEED.read_bytes(), monkeypatch=monkeypatch)
    assert code == 0, err
    from_file = rows(cli(capsys, str(SEED), "--model", str(small_model))[1])
    tagged = rows(out)
    assert set(tagged["article"]) == {"<stdin>"}
    pd.testing.assert_frame_equal(tagged.drop(columns="article"), from_file.drop(columns="article"))


def test_standard_input_with_lines_is_one_statement_per_line(small_model, capsys, monkeypatch):
    text = b"We must defend our allies.\n\n  The bombing must stop.  \n"
    code, out, err = cli(capsys, "--model", str(small_model), "--lines", stdin=text, monkeypatch=monkeypatch)
    assert code == 0, err
    tagged = rows(out)
    assert list(tagged.columns) == ["text", "label", *PROBABILITIES]
    assert list(tagged["text"]) == ["We must defend our allies.", "The bombing must stop."]


def test_csv_output_to_a_file_holds_the_same_rows_as_json_lines(small_model, tmp_path, capsys):
    _, jsonl, _ = cli(capsys, str(SEED), "--model", str(small_model))
    inferred = tmp_path / "tagged.csv"
    code, out, err = cli(capsys, str(SEED), "--model", str(small_model), "-o", str(inferred))
    assert code == 0 and out == "", err
    code, explicit, _ = cli(capsys, str(SEED), "--model", str(small_model), "--format", "csv")
    assert code == 0
    assert inferred.read_text(encoding="utf-8") == explicit
    from_csv = pd.read_csv(inferred, keep_default_na=False)
    from_jsonl = rows(jsonl).fillna("")
    assert list(from_csv.columns) == list(from_jsonl.columns)
    assert list(from_csv["text"]) == list(from_jsonl["text"])
    np.testing.assert_array_equal(from_csv[PROBABILITIES].to_numpy(), from_jsonl[PROBABILITIES].to_numpy())
    assert [path.name for path in tmp_path.iterdir()] == ["tagged.csv"]  # no temporary file left beside it


# --- Bad input: exit code 2, one line naming the file, no output file ----------------------------------------------


BAD_INPUTS = {
    "empty file": ("empty.txt", b"", "the file is empty"),
    "undecodable bytes": ("latin1.txt", "Line one.\n“Bombs”, said Jos\xe9.\n".encode("latin-1", "replace"), "line 2"),
    "malformed csv": ("broken.csv", b'id,text\n1,"an unclosed quote\n2,another\n', "malformed CSV"),
    "too many fields": ("fields.csv", b"id,text\n1,fine\n2,one,two\n", "Expected 2 fields in line 3"),
    # pandas would take the first field for an index and shift every column: "We must act" became the index.
    "too many fields in the first row": ("first.csv", b"text\nWe must act, now.\nStop.\n", "line 2 has 2 fields"),
    "missing text column": ("nocolumn.csv", b"id,quote\n1,We must act.\n", "no column 'text'"),
    "header only": ("header.csv", b"id,text\n", "no statements"),
    "empty statement": ("blank.csv", b"id,text\n1,We must act.\n2,\n", "row 3: column 'text' is empty"),
    "bad json line": ("broken.jsonl", b'{"text": "We must act."}\n{"text": \n', "line 2: not valid JSON"),
    "json line not an object": ("list.jsonl", b'["We must act."]\n', "line 1: a JSON list"),
    "undecodable table": ("latin1.csv", b"id,text\n1,ok\n2,Bomb\xe9ing\n", "line 3"),
    "unsupported file type": ("article.pdf", b"%PDF-1.4", "unsupported file type '.pdf'"),
    "web page without text": ("menu.html", b"<html><nav><p>Home</p></nav><script>a()</script></html>", "holds no text"),
    "not parquet": ("fake.parquet", b"id,text\n1,We must act.\n", "not a readable Parquet file"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_naming_the_file_and_writes_nothing(small_model, tmp_path, capsys, case):
    name, content, expected = BAD_INPUTS[case]
    path = tmp_path / name
    path.write_bytes(content)
    output = tmp_path / "out" / "tagged.jsonl"
    code, out, err = cli(capsys, str(path), "--model", str(small_model), "-o", str(output))
    assert_one_line_error(code, err, str(path), expected)
    assert out == ""
    assert not output.parent.exists() or list(output.parent.iterdir()) == []


def test_a_missing_file_is_named(small_model, tmp_path, capsys):
    missing = tmp_path / "nowhere.txt"
    code, _, err = cli(capsys, str(SEED), str(missing), "--model", str(small_model))
    assert_one_line_error(code, err, str(missing), "no such file")


def test_a_folder_without_articles_is_named(small_model, tmp_path, capsys):
    code, _, err = cli(capsys, str(tmp_path), "--model", str(small_model))
    assert_one_line_error(code, err, str(tmp_path), "no articles (.txt, .html, .htm)")


def test_an_undecodable_article_among_good_ones_leaves_no_output_file(small_model, tmp_path, capsys):
    shutil.copy(SEED, tmp_path / "a_good.txt")
    (tmp_path / "b_bad.txt").write_bytes(b'\xff\xfe"Bombs", he said.')
    output = tmp_path / "tagged.jsonl"
    good, bad = str(tmp_path / "a_good.txt"), str(tmp_path / "b_bad.txt")
    code, _, err = cli(capsys, good, bad, "--model", str(small_model), "-o", str(output))
    assert_one_line_error(code, err, "b_bad.txt", "line 1", "UTF-8")
    assert not output.exists() and sorted(path.name for path in tmp_path.iterdir()) == ["a_good.txt", "b_bad.txt"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--format", "xml"], "invalid choice: 'xml'"),
        (["--batch-size", "0"], "expected a positive whole number"),
        (["-o", "tagged.parquet"], "name it .jsonl or .csv"),
        (["--lines"], "--lines applies to standard input only"),
        (["-"], "not both"),
        (["--text-column", "quote"], "--text-column applies to a statements table"),  # an article: quotes are found
    ],
)
def test_usage_mistakes_exit_2_with_one_line(small_model, capsys, args, expected):
    code, out, err = cli(capsys, str(SEED), "--model", str(small_model), *args)
    assert_one_line_error(code, err, expected)
    assert out == ""


def test_empty_standard_input_exits_2(small_model, capsys, monkeypatch):
    code, _, err = cli(capsys, "--model", str(small_model), stdin=b"  \n", monkeypatch=monkeypatch)
    assert_one_line_error(code, err, "<stdin>", "empty")


def test_standard_input_in_another_encoding_is_named_and_read_with_encoding(small_model, capsys, monkeypatch):
    statements = "Caf\u00e9 talk will not stop the bombing.\n".encode("cp1252")
    code, _, err = cli(capsys, "--lines", "--model", str(small_model), stdin=statements, monkeypatch=monkeypatch)
    assert_one_line_error(code, err, "<stdin>", "line 1", "--encoding")
    code, out, err = cli(
        capsys,
        "--lines",
        "--encoding",
        "cp1252",
        "--model",
        str(small_model),
        stdin=statements,
        monkeypatch=monkeypatch,
    )
    assert code == 0, err
    assert rows(out)["text"].tolist() == ["Caf\u00e9 talk will not stop the bombing."]


def test_errors_reach_the_user_as_one_line_without_a_traceback(tmp_path):
    """The real command: exit code and stderr as a shell user sees them."""
    empty = tmp_path / "empty.txt"
    empty.touch()
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.predict", str(empty), "-o", str(tmp_path / "out.jsonl")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    expected = f"error: {empty}: the file is empty; expected an article as UTF-8 text"
    assert result.stderr.strip().splitlines() == [expected]
    assert sorted(path.name for path in tmp_path.iterdir()) == ["empty.txt"]


# --- Model references --------------------------------------------------------------------------------------------


def test_a_missing_model_file_is_named(tmp_path, capsys):
    missing = tmp_path / "model.skops"
    code, _, err = cli(capsys, str(SEED), "--model", str(missing))
    assert_one_line_error(code, err, str(missing), "no such file")


def test_a_file_that_is_not_a_model_is_named(tmp_path, capsys):
    fake = tmp_path / "model.skops"
    fake.write_bytes(b"not a zip file")
    code, _, err = cli(capsys, str(SEED), "--model", str(fake))
    assert_one_line_error(code, err, str(fake), "could not be loaded")


def test_a_missing_store_is_named_and_not_created(tmp_path, capsys):
    store = tmp_path / "mlflow.db"
    code, _, err = cli(capsys, str(SEED), "--tracking-uri", f"sqlite:///{store}")
    assert_one_line_error(code, err, "models:/stance-classifier@champion", f"no MLflow store at {store}")
    assert not store.exists()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_tracking_server_is_named(capsys):
    uri = f"http://127.0.0.1:{free_port()}"
    code, _, err = cli(capsys, str(SEED), "--tracking-uri", uri)
    assert_one_line_error(code, err, "models:/stance-classifier@champion", uri)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("models:/stance-classifier@retired", "alias retired not found"),
        (
            "models:/no-such-model@champion",
            "no-such-model not found; the store's registered models: 'stance-classifier'",
        ),
        ("models:/stance-classifier/7", "version=7"),
        ("runs:/0123456789abcdef/model", "0123456789abcdef not found"),
        # No version or alias: MLflow looks for a logged model of that id.
        ("models:/stance-classifier", "Logged model with ID 'stance-classifier' not found"),
        ("models:/stance-classifier/v1", "Invalid Model Version stage: v1"),
    ],
)
def test_a_missing_model_alias_or_version_is_named(registry, capsys, model, expected):
    code, _, err = cli(capsys, str(SEED), "--model", model, "--tracking-uri", registry.uri)
    line = assert_one_line_error(code, err, model, expected)
    if model.startswith("models:/stance-classifier"):  # what the registered model has, to pick from
        assert line.endswith(
            "; registered model 'stance-classifier' has version 1; aliases @champion (version 1): "
            "e.g. models:/stance-classifier@champion"
        ), line


def test_every_kind_of_model_reference_gives_the_same_predictions(registry, small_model, capsys, monkeypatch):
    _, reference, _ = cli(capsys, str(SEED), "--model", str(small_model))
    for model in [
        "models:/stance-classifier@champion",
        f"models:/stance-classifier/{registry.version}",
        registry.model_uri,
        registry.run_model_uri,
        registry.directory,
    ]:
        code, out, err = cli(capsys, str(SEED), "--model", model, "--tracking-uri", registry.uri)
        assert code == 0, (model, err)
        assert out == reference, model
    # The default model and store: models:/stance-classifier@champion in MLFLOW_TRACKING_URI.
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.uri)
    code, out, err = cli(capsys, str(SEED))
    assert code == 0 and out == reference, err


def test_the_default_model_is_the_champion_of_the_prepared_data_set(
    registry, small_model, capsys, monkeypatch, tmp_path
):
    """After `make run OVERRIDES="data=mine"`, stance-predict tags with that data set's champion (as the compare
    command defaults to its experiment), not with the shipped corpus's."""
    from pipeline import tracking

    manifest = tmp_path / "data" / "processed" / "dataset.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text(json.dumps({"data": {"name": "mine", "registered_model": "stance-mine"}}), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    code, _, err = cli(capsys, str(SEED), "--tracking-uri", registry.uri)
    assert_one_line_error(
        code, err, "models:/stance-mine@champion", "not found", "--model models:/stance-classifier@champion for the"
    )
    with pytest.raises(UserInputError, match="models:/stance-mine@champion"):
        load_champion(registry.uri)  # the Python API's default is the same model

    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.uri)
    version = tracking.register_model(registry.model_uri, "stance-mine")
    tracking.set_alias("stance-mine", "champion", version)
    _, reference, _ = cli(capsys, str(SEED), "--model", str(small_model))
    code, out, err = cli(capsys, str(SEED))
    assert code == 0 and out == reference, err


# --- The Python API ------------------------------------------------------------------------------------------------


def test_the_python_one_liner_loads_the_champion(registry, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.uri)
    model = load_champion()
    tagged = model.tag(["We must defend our allies.", "The bombing must stop."])
    assert list(tagged.columns) == ["text", "label", *PROBABILITIES]
    assert len(tagged) == 2 and set(tagged["label"]) <= LABELS
    quotes = model.tag_article(SEED.read_text(encoding="utf-8"))
    assert list(quotes.columns) == ["text", "start", "end", "speaker", "kind", "label", *PROBABILITIES]
    assert len(quotes) == 6


def test_cli_and_python_give_equal_predictions(small_model, capsys):
    model = load_model(small_model)
    _, out, _ = cli(capsys, str(SEED), "--model", str(small_model))
    from_cli = rows(out).drop(columns="article")
    from_python = model.tag_article(SEED.read_text(encoding="utf-8"))
    rounding = dict.fromkeys(PROBABILITIES, predict.PROBABILITY_DIGITS)
    pd.testing.assert_frame_equal(from_cli, from_python.round(rounding), check_dtype=False)
    # The same statements tagged one by one, as a list, as a Series or as a frame give the same rows.
    texts = list(from_python["text"])
    as_list = model.tag(texts)
    pd.testing.assert_frame_equal(as_list, from_python[["text", "label", *PROBABILITIES]])
    pd.testing.assert_frame_equal(model.tag(pd.Series(texts)), as_list)
    pd.testing.assert_frame_equal(model.tag(pd.DataFrame({"text": texts, "id": range(6)}))[as_list.columns], as_list)
    one_by_one = pd.concat([model.tag(text) for text in texts], ignore_index=True)
    pd.testing.assert_frame_equal(one_by_one, as_list, check_exact=False, rtol=1e-12)


def test_labels_are_the_classifier_predictions_that_mlflow_serves(small_model):
    """mlflow.pyfunc and `mlflow models serve` call the pipeline's predict on a frame with a text column."""
    model = load_model(small_model)
    frame = pd.read_csv(FIXTURE_CSV)
    tagged = model.tag(frame[["text"]])
    np.testing.assert_array_equal(tagged["label"], model.classifier.predict(frame[["text"]]))
    np.testing.assert_allclose(tagged[PROBABILITIES], model.classifier.predict_proba(frame[["text"]]))


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        ([], "no statements given"),
        ([None], "statement 0 is missing (None or NaN)"),
        (["The strikes must stop.", None], "statement 1 is missing (None or NaN)"),
        (["The strikes must stop.", ...], "statement 1 is Ellipsis (`...`, a placeholder"),
        ([3, "The strikes must stop.", 4.5], "statement 0 is 3 (int), and 1 more are not strings"),
        ([2.5], "statement 0 is 2.5 (float)"),
    ],
)
def test_input_that_is_not_statements_gets_a_clear_error_from_the_api_and_the_model(small_model, statements, expected):
    model = load_model(small_model)
    with pytest.raises(ValueError, match=re.escape(expected)):
        model.tag(statements)
    # The fitted pipeline itself (what mlflow.sklearn.load_model returns) refuses too, rather than answer "neutral".
    for call in (model.classifier.predict, model.classifier.predict_proba):
        with pytest.raises(ValueError, match=re.escape(expected)):
            call(statements)
        with pytest.raises(ValueError, match=re.escape(expected)):
            call(pd.DataFrame({"text": statements}, dtype=object))


def test_with_mlflow_loaded_an_input_error_is_also_mlflows_bad_request(small_model):
    """So that `mlflow models serve` returns the message itself, with HTTP 400 (tests/test_serving.py)."""
    from mlflow.exceptions import MlflowException

    with pytest.raises(ValueError, match="statement 0 is missing") as error:
        load_model(small_model).classifier.predict([None])
    assert isinstance(error.value, MlflowException) and error.value.get_http_status_code() == 400


@pytest.mark.parametrize("nonsense", [None, ..., 7])
def test_a_bare_non_string_is_refused_by_the_model(small_model, nonsense):
    with pytest.raises(ValueError, match="expected every statement to be a string; statement 0 is"):
        load_model(small_model).classifier.predict(nonsense)
    with pytest.raises(ValueError, match="expected every statement to be a string; statement 0 is"):
        load_model(small_model).tag(nonsense)  # the Python API says the same, not a TypeError from list(None)


@pytest.mark.parametrize("batch_size", ["10000", "700"], ids=["one batch", "batches in flight"])
def test_worker_processes_give_the_same_rows_in_the_same_order(small_model, tmp_path, capsys, batch_size):
    from joblib.externals.loky import get_reusable_executor

    texts = pd.read_csv(FIXTURE_CSV)["text"]
    frame = pd.DataFrame({"id": range(4200), "text": [f"{texts[i % len(texts)]} ({i})" for i in range(4200)]})
    path = statements_in(".csv", tmp_path, frame)
    options = ["--model", str(small_model), "--batch-size", batch_size]
    try:
        code, parallel, err = cli(capsys, str(path), *options, "--jobs", "2")
    finally:
        get_reusable_executor().shutdown(wait=True)
    assert code == 0, err
    code, serial, _ = cli(capsys, str(path), *options)
    assert code == 0 and parallel == serial and len(serial.splitlines()) == 4200
    assert [json.loads(line)["id"] for line in parallel.splitlines()] == [str(i) for i in range(4200)]


def test_a_progress_bar_on_a_terminal_unless_quiet(small_model, tmp_path, monkeypatch, capsys):
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for extra, shown in (([], True), (["--quiet"], False)):
        terminal = Terminal()
        monkeypatch.setattr(sys, "stderr", terminal)
        assert predict.main([str(SEED), "--model", str(small_model), "-o", str(tmp_path / "t.jsonl"), *extra]) == 0
        assert ("0/1 [" in terminal.getvalue() and "articles/s" in terminal.getvalue()) == shown, terminal.getvalue()
