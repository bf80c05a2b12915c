"""Quote extraction time against article size, from 10 KB to 50 MB.

Run from the repository root:
    .venv/bin/python benchmarks/quote_extraction.py            # 10 KB ... 50 MB
    .venv/bin/python benchmarks/quote_extraction.py 10000 1000000   # chosen sizes, in bytes

Each size is built by repeating the founding article (seeds/) in three shapes: paragraphs separated by blank lines
(wire copy), one line per paragraph, and everything in one paragraph (the shape that used to cost most). The time is
the best of REPEATS runs of `extract_quotes` (one run from 10 MB up), wall-clock and CPU. Prints one row per size
and shape, and the CPU seconds per megabyte, which stays flat when the time grows linearly. It asserts nothing.
"""

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.articles.quotes import extract_quotes  # noqa: E402

SIZES = [10_000, 100_000, 1_000_000, 10_000_000, 50_000_000]
REPEATS = 3
SEED = next((REPO / "seeds").glob("*.txt")).read_text(encoding="utf-8")
SHAPES = {
    "paragraphs": SEED.strip() + "\n\n",
    "lines": SEED.strip().replace("\n\n", "\n") + "\n",
    "one paragraph": SEED.strip().replace("\n", " ") + " ",
}


def article(unit: str, size: int) -> str:
    return (unit * (size // len(unit) + 1))[:size]


def best_time(text: str, repeats: int) -> tuple[float, float, int]:
    """Best wall-clock and CPU seconds of `repeats` runs (CPU time is what other processes on a busy machine
    leave unchanged), and the number of quotes found."""
    walls, cpus, found = [], [], 0
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        found = len(extract_quotes(text))
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), found


def main(sizes: list[int]) -> None:
    print(f"{'size':>12}  {'shape':<14}{'quotes':>9}{'wall s':>9}{'CPU s':>9}{'CPU s/MB':>10}")
    for size in sizes:
        for shape, unit in SHAPES.items():
            text = article(unit, size)
            wall, cpu, found = best_time(text, REPEATS if size < 10_000_000 else 1)
            print(f"{size:>12,}  {shape:<14}{found:>9,}{wall:>9.2f}{cpu:>9.2f}{cpu / (size / 1e6):>10.2f}", flush=True)


if __name__ == "__main__":
    main([int(size) for size in sys.argv[1:]] or SIZES)
