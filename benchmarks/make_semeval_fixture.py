"""Write a small synthetic data set in the SemEval-2016 Task 6 format, for tests and the benchmark recipe.

The real data's terms forbid shipping it, so this writes look-alike files: tab-separated `ID  Target  Tweet  Stance`,
FAVOR / AGAINST / NONE, five targets, a training file and a gold test file, Windows-1252 encoded, unquoted text
with stray quote characters. Words that signal a stance for one target signal the opposite (or nothing) for another,
as in the real data, so that a model per target has something to gain over one pooled model.

    python benchmarks/make_semeval_fixture.py tests/fixtures/semeval2016
"""

import random
import sys
from pathlib import Path

TRAIN_FILE = "semeval2016-task6-trainingdata.txt"
TEST_FILE = "SemEval2016-Task6-subtaskA-testdata-gold.txt"
HEADER = "ID\tTarget\tTweet\tStance"
# Stance words are shared by the targets, but what they signal depends on the target ("freedom", "life", "god" and
# "rights" argue opposite ways for different targets): each target draws its own favour / against words from one pool.
STANCE_WORDS = [
    "freedom",
    "life",
    "rights",
    "god",
    "faith",
    "science",
    "evidence",
    "tradition",
    "family",
    "choice",
    "tax",
    "future",
    "respect",
    "truth",
    "nature",
    "safety",
    "children",
    "equality",
    "values",
    "history",
    "leader",
    "experience",
    "scandal",
    "hoax",
    "prayer",
    "reason",
    "body",
    "murder",
    "progress",
]
HASHTAGS = {
    "Atheism": ["#atheism", "#religion", "#faith"],
    "Climate Change is a Real Concern": ["#climate", "#climatechange", "#globalwarming"],
    "Feminist Movement": ["#feminism", "#equality", "#women"],
    "Hillary Clinton": ["#hillary", "#hillaryclinton", "#election"],
    "Legalization of Abortion": ["#abortion", "#prochoice", "#prolife"],
}
WORDS_PER_SIDE = 9


def stance_words(seed: int) -> dict[str, tuple[list[str], list[str]]]:
    """target -> (words in favour, words against), drawn from the shared pool."""
    rng = random.Random(seed)
    chosen = {}
    for target in HASHTAGS:
        words = rng.sample(STANCE_WORDS, 2 * WORDS_PER_SIDE)
        chosen[target] = (words[:WORDS_PER_SIDE], words[WORDS_PER_SIDE:])
    return chosen


FILLER = [
    "today",
    "just",
    "really",
    "people",
    "think",
    "know",
    "this",
    "that",
    "what",
    "why",
    "when",
    "tonight",
    "news",
    "read",
    "watch",
    "again",
    "still",
    "never",
    "always",
    "everyone",
    "someone",
    "nobody",
    "country",
    "world",
    "talk",
    "debate",
    "morning",
    "week",
    "year",
    "time",
    "live",
    "here",
    "there",
]
NEUTRAL_WORDS = ["weather", "coffee", "game", "music", "traffic", "lunch", "weekend", "movie", "phone", "train"]
PUNCTUATION = ["!", "?", "...", "", "", ".", " \u2019", ' "', "\u2026", " \u2014"]
LABELS = ("FAVOR", "AGAINST", "NONE")
# Label shares per target, roughly as uneven as the real data.
LABEL_WEIGHTS = (0.3, 0.5, 0.2)
NOISE = 0.12


def tweet(rng: random.Random, target: str, stance: str, words_by_target) -> str:
    hashtags, (favour, against) = HASHTAGS[target], words_by_target[target]
    cues = {"FAVOR": favour, "AGAINST": against, "NONE": NEUTRAL_WORDS}[stance]
    words = rng.sample(FILLER, rng.randint(4, 8)) + rng.sample(cues, rng.randint(1, 3))
    if rng.random() < 0.4:  # a cue of the other side, as real tweets quote what they argue against
        other = against if stance == "FAVOR" else favour
        words.append(rng.choice(other))
    rng.shuffle(words)
    if rng.random() < 0.7:
        words.append(rng.choice(hashtags))
    return " ".join(words).capitalize() + rng.choice(PUNCTUATION)


def rows(rng: random.Random, per_target: int, first_id: int, words_by_target) -> list[str]:
    lines, seen = [], set()
    for target in HASHTAGS:
        made = 0
        while made < per_target:
            stance = rng.choices(LABELS, weights=LABEL_WEIGHTS)[0]
            text = tweet(rng, target, stance, words_by_target)
            if text in seen:
                continue
            seen.add(text)
            label = rng.choice(LABELS) if rng.random() < NOISE else stance
            lines.append(f"{first_id + len(lines)}\t{target}\t{text}\t{label}")
            made += 1
    return lines


def write(folder: Path, train_per_target: int = 160, test_per_target: int = 80, seed: int = 2016) -> None:
    rng, words_by_target = random.Random(seed), stance_words(seed)
    folder.mkdir(parents=True, exist_ok=True)
    train = rows(rng, train_per_target, 101, words_by_target)
    test = rows(rng, test_per_target, 10001, words_by_target)
    # Windows line ends and encoding, as the real files.
    for name, lines in ((TRAIN_FILE, train), (TEST_FILE, test)):
        (folder / name).write_bytes(("\r\n".join([HEADER, *lines]) + "\r\n").encode("cp1252"))


if __name__ == "__main__":
    write(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/semeval2016"))
