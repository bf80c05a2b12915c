"""Inference speed: batch throughput of the champion, and the cold start of `python -m pipeline.predict seeds/`.

Run from the repository root after `make run` (so that models:/stance-classifier@champion exists):
    .venv/bin/python benchmarks/predict_throughput.py
Goals: >= 20,000 statements/s on 2 cores; <= 3 s from a cold start to the tags of one article.
"""

import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The repository's own package, also when the editable install points elsewhere.
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

STATEMENTS = 100_000
REPEATS = 3
BATCH_SIZE = 10_000  # stance-predict's default
CORPUS = Path("data/raw/statements.csv")
LOCAL_MODEL = Path("models/classifier.skops")
PYTHON = sys.executable
ENV = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONWARNINGS": "ignore"}

# The CLI's steps, one timer each, in a fresh interpreter: what a cold `python -m pipeline.predict seeds/` does.
# Like the CLI, it pauses garbage collection while loading (see predict.collecting_no_garbage_while_loading).
BREAKDOWN = """
import gc, sys, time
marks = [("start", time.perf_counter())]
def mark(name):
    marks.append((name, time.perf_counter()))
import pipeline.predict, pipeline.inference
mark("import pipeline.predict (pandas, quotes)")
reference = sys.argv[1]
gc.disable()
if reference.endswith(".skops"):
    import skops.io, pipeline.features.text_input
    mark("import scikit-learn + skops")
    tagger = pipeline.inference.load_model(reference)
    mark("load the .skops file")
else:
    import mlflow
    mark("import mlflow")
    import pipeline.tracking
    mark("import mlflow.sklearn + scikit-learn (pipeline.tracking)")
    import skops.io
    mark("import skops")
    tagger = pipeline.inference.load_model(reference)
    mark("resolve the alias in the store + copy artifacts + load")
gc.freeze()
gc.enable()
from pathlib import Path
from pipeline.inference import quote_frame
from pipeline.articles.quotes import extract_quotes
quotes = [quote_frame(extract_quotes(path.read_text(encoding="utf-8"))) for path in sorted(Path("seeds").glob("*.txt"))]
mark("extract quotes")
import pandas as pd
tagged = tagger.tag_quotes(pd.concat(quotes, ignore_index=True))
mark("predict")
for (_, before), (name, after) in zip(marks, marks[1:]):
    print(f"{name}\\t{after - before:.3f}")
"""


def seconds(command: list[str], repeats: int = REPEATS) -> list[float]:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return times


def spread(times: list[float]) -> str:
    return f"median {statistics.median(times):.2f} s (min {min(times):.2f}, max {max(times):.2f})"


def throughput() -> None:
    import pandas as pd

    from pipeline.inference import load_champion

    sys.path.insert(0, str(REPO / "benchmarks"))
    from scale import generate_statements

    serial, parallel = load_champion(), load_champion(jobs=2)
    # Distinct statements, as real ones mostly are: a sample of the corpus's 1,590 would repeat each one 60 times,
    # and the features of repeated words and statements cost less than those of new text.
    texts = generate_statements(STATEMENTS)["text"].tolist()
    frame = pd.DataFrame({"text": texts})
    print(
        f"\nBatch prediction, {STATEMENTS:,} distinct statements recombined from the sentences of {CORPUS} "
        f"by benchmarks/scale.py ({serial.source})"
    )
    in_batches = range(0, STATEMENTS, BATCH_SIZE)
    parallel.tag(texts[:BATCH_SIZE])  # start the workers once, as the first batch of a long run does
    for name, predict in [
        (
            f"labels + probabilities, batches of {BATCH_SIZE:,} (stance-predict), 1 process",
            lambda: [serial.tag(texts[start : start + BATCH_SIZE]) for start in in_batches],
        ),
        (
            f"labels + probabilities, batches of {BATCH_SIZE:,}, 2 worker processes (--jobs 2)",
            lambda: [parallel.tag(texts[start : start + BATCH_SIZE]) for start in in_batches],
        ),
        ("labels only, one call (Pipeline.predict, what the server runs)", lambda: serial.classifier.predict(frame)),
    ]:
        rates = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            predict()
            rates.append(STATEMENTS / (time.perf_counter() - start))
        print(f"  {name}: median {statistics.median(rates):,.0f} statements/s (min {min(rates):,.0f})")

    with tempfile.TemporaryDirectory() as folder:
        table, output = Path(folder) / "statements.csv", Path(folder) / "tagged.jsonl"
        frame.to_csv(table, index=False)
        for jobs in (1, 2):
            command = [PYTHON, "-m", "pipeline.predict", str(table), "-o", str(output), "--quiet", "--jobs", str(jobs)]
            times = seconds(command)
            rate = STATEMENTS / statistics.median(times)
            print(f"  stance-predict --jobs {jobs} on the {STATEMENTS:,}-row CSV, from the command line to the file: ")
            print(f"    {spread(times)} = {rate:,.0f} statements/s")


def cold_start() -> None:
    print("\nCold start: python -m pipeline.predict seeds/ (one article, 6 quotes), a new interpreter each time")
    with tempfile.TemporaryDirectory() as folder:
        output = str(Path(folder) / "tagged.jsonl")
        print(f"  interpreter only (python -c pass): {spread(seconds([PYTHON, '-c', 'pass']))}")
        for label, extra in [
            ("champion from the MLflow registry (default)", []),
            (f"--model {LOCAL_MODEL} (no MLflow import)", ["--model", str(LOCAL_MODEL)]),
        ]:
            times = seconds([PYTHON, "-m", "pipeline.predict", "seeds/", "-o", output, *extra])
            print(f"  {label}: {spread(times)}")
            script = Path(PYTHON).parent / "stance-predict"
            if script.exists():
                times = seconds([str(script), "seeds/", "-o", output, *extra])
                print(f"    the same through the stance-predict script: {spread(times)}")
    for reference in ["models:/stance-classifier@champion", str(LOCAL_MODEL)]:
        print(f"\n  Where the time goes with {reference} (median of {REPEATS} fresh interpreters, seconds):")
        steps: dict[str, list[float]] = {}
        for _ in range(REPEATS):
            start = time.perf_counter()
            run = subprocess.run(
                [PYTHON, "-c", BREAKDOWN, reference], check=True, env=ENV, capture_output=True, text=True
            )
            wall = time.perf_counter() - start
            timed = [line.split("\t") for line in run.stdout.splitlines()]
            for name, value in timed:
                steps.setdefault(name, []).append(float(value))
            rest = wall - sum(float(value) for _, value in timed)
            steps.setdefault("interpreter start and exit", []).append(rest)
        for name, values in steps.items():
            print(f"    {name}: {statistics.median(values):.2f}")
        print(f"    total: {sum(statistics.median(values) for values in steps.values()):.2f}")
    import_report()


def import_report(top: int = 8) -> None:
    """The costliest top-level imports of the default command, from python -X importtime."""
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            [PYTHON, "-X", "importtime", "-m", "pipeline.predict", "seeds/", "-o", str(Path(folder) / "t.jsonl")],
            env=ENV,
            capture_output=True,
            text=True,
            check=True,
        )
    top_level = []
    for line in result.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if match and match[3] == " ":  # one space: imported by the program, not by another module
            top_level.append((int(match[2]) / 1e6, match[4]))
    print("\n  Costliest top-level imports of the default command (python -X importtime, one run, seconds):")
    for cumulative, module in sorted(top_level, reverse=True)[:top]:
        print(f"    {module}: {cumulative:.2f}")


def main() -> None:
    os.chdir(REPO)
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.2f}")
    throughput()
    cold_start()


if __name__ == "__main__":
    main()
