"""Speed of the feature and model options: encoder load, embedding throughput, training and inference, cold start.

    .venv/bin/python benchmarks/embedding_options.py        # after make run (the splits); needs the embeddings extra

Everything here runs on the shipped corpus's splits. Embedding throughput and inference use a fresh, empty cache
(statements a served model sees are mostly new), training a warm one (the cache a sweep builds); the script says
which. Prints the load average first: other jobs on the machine slow every number down.
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import skops.io
from hydra import compose, initialize_config_dir

REPO = Path(__file__).resolve().parents[1]
OPTIONS = (
    ["features=word_char"],
    ["features=minilm"],
    ["features=word_char_minilm"],
)


def config(overrides: list[str]):
    with initialize_config_dir(str(REPO / "conf"), version_base=None):
        return compose(config_name="config", overrides=overrides)


def timed(function, *args):
    start = time.perf_counter()
    result = function(*args)
    return result, time.perf_counter() - start


def main() -> None:
    from pipeline.data.stage_io import read_split
    from pipeline.features.embeddings import SentenceEmbedder
    from pipeline.inference import StanceTagger
    from pipeline.train import fit_classifier

    print(f"load average: {os.getloadavg()[0]:.1f}", flush=True)
    processed = REPO / "data" / "processed"
    train = read_split(str(processed), "train")
    test = pd.concat([read_split(str(processed), "validation"), read_split(str(processed), "test")])

    # The whole encoder (layers=None), then the first 3 of its 6 layers, as conf/features/ sets them.
    for layers in (None, 3):
        with tempfile.TemporaryDirectory() as empty:
            embedder = SentenceEmbedder(cache_dir=empty, layers=layers).fit(train["text"])
            _, load_seconds = timed(embedder.sentence_transformer)
            print(f"layers={layers}: encoder load (first use in a process): {load_seconds:.1f} s", flush=True)
            texts = list(dict.fromkeys(test["text"]))
            _, seconds = timed(embedder.transform, texts)
            rate = len(texts) / seconds
            print(f"layers={layers}: embedding, empty cache: {len(texts)} statements in {seconds:.1f} s = {rate:.0f}/s")
            _, seconds = timed(embedder.transform, texts)
            rate = len(texts) / seconds
            print(f"layers={layers}: embedding, all cached: {len(texts)} statements in {seconds:.3f} s = {rate:.0f}/s")

    models = {}
    for overrides in OPTIONS:
        cfg = config(overrides)
        fit_classifier(cfg, train)  # warms the disk cache with the training statements
        classifier, seconds = timed(fit_classifier, cfg, train)
        models[cfg.features.name] = classifier
        print(f"train {' '.join(overrides)}: {seconds:.1f} s on {len(train)} statements (warm cache)", flush=True)

    for name, classifier in models.items():
        with tempfile.TemporaryDirectory() as empty:
            os.environ["STANCE_EMBEDDING_CACHE"] = empty
            tagger = StanceTagger(classifier, name)
            _, seconds = timed(tagger.tag, list(test["text"]))
            print(f"inference {name}: {len(test) / seconds:.0f} statements/s (labels + probabilities, new statements)")
            os.environ.pop("STANCE_EMBEDDING_CACHE")

    for name, classifier in models.items():
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / f"{name}.skops"
            skops.io.dump(classifier, path)
            command = [sys.executable, "-m", "pipeline.predict", str(REPO / "seeds"), "--model", str(path)]
            env = {**os.environ, "STANCE_EMBEDDING_CACHE": folder}
            start = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, env=env, cwd=REPO)
            seconds = time.perf_counter() - start
            print(f"cold start {name}: stance-predict seeds/ --model {name}.skops in {seconds:.1f} s")


if __name__ == "__main__":
    main()
