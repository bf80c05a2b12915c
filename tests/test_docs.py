"""Every ```bash and ```python block of README.md and docs/*.md runs as pasted, or says why it cannot.

A block that cannot run here (it starts a server, needs your own files, takes minutes) is marked on the line
before its opening fence:

    <!-- not-run: starts a server; tests/test_serving.py starts it and sends it requests -->

The runnable blocks run in document order, each in a fresh shell or Python process, in a temporary copy of the
repository whose corpus is the small fixture (tests/fixtures/statements.csv) and where `make run` has trained
and registered a model first. Blocks without a language (```), ```text, ```json or ```yaml are listings and
are not run.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import FIXTURE_CSV, LEFT_BEHIND, REPO

DOCUMENTS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
RUNNABLE_LANGUAGES = {"bash": "bash", "sh": "bash", "shell": "bash", "console": "bash", "python": "python"}
NOT_RUN = re.compile(r"^\s*<!--\s*not-run\b:?(?P<reason>.*?)-->\s*$")
FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>```+|~~~+)\s*(?P<language>[\w+-]*)")
BLOCK_TIMEOUT = 300


@dataclass(frozen=True)
class Block:
    document: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str
    not_run_reason: str | None  # None: runnable; "": marked without a reason

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(REPO)}:{self.line}"


def code_blocks(document: Path) -> list[Block]:
    """The ```bash / ```python blocks of a Markdown file, with the not-run marker before each, if any."""
    lines = document.read_text(encoding="utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = FENCE.match(lines[index])
        if not opening:
            index += 1
            continue
        fence, language = opening["fence"], opening["language"].lower()
        end = next(
            (later for later in range(index + 1, len(lines)) if lines[later].strip().startswith(fence)), len(lines)
        )
        if language in RUNNABLE_LANGUAGES:
            before = next((lines[earlier] for earlier in range(index - 1, -1, -1) if lines[earlier].strip()), "")
            marker = NOT_RUN.match(before)
            code = "\n".join(line.removeprefix(opening["indent"]) for line in lines[index + 1 : end]) + "\n"
            reason = marker["reason"].strip() if marker else None
            blocks.append(Block(document, index + 1, RUNNABLE_LANGUAGES[language], code, reason))
        index = end + 1
    return blocks


ALL_BLOCKS = [block for document in DOCUMENTS for block in code_blocks(document)]
RUNNABLE = [block for block in ALL_BLOCKS if block.not_run_reason is None]


def test_the_parser_finds_blocks_and_markers(tmp_path):
    page = tmp_path / "page.md"
    page.write_text(
        "Intro\n\n```bash\necho one\n```\n\n<!-- not-run: starts a server -->\n```python\nserve()\n```\n\n"
        "```\nlisting\n```\n\n<!-- not-run -->\n\n```sh\nrm -rf /\n```\n\n  ```python\n  print(2)\n  ```\n",
        encoding="utf-8",
    )
    blocks = code_blocks(page)
    assert [(block.line, block.language, block.not_run_reason) for block in blocks] == [
        (3, "bash", None),
        (8, "python", "starts a server"),
        (18, "bash", ""),
        (22, "python", None),
    ]
    assert blocks[0].code == "echo one\n" and blocks[3].code == "print(2)\n"


def test_every_block_that_is_not_run_says_why():
    unexplained = [block.name for block in ALL_BLOCKS if block.not_run_reason == ""]
    assert not unexplained, f"give a reason: <!-- not-run: why --> before {unexplained}"


def test_the_readme_examples_are_run():
    readme = [block for block in RUNNABLE if block.document.name == "README.md"]
    assert {block.language for block in readme} == {"bash", "python"}, readme


def virtual_environment_in(copy: Path) -> None:
    """`.venv` in the copy: the test's own environment, marked as installed so that `make` does not reinstall."""
    real = Path(sys.prefix)
    venv = copy / ".venv"
    venv.mkdir()
    for entry in real.iterdir():
        if entry.name != ".installed":
            (venv / entry.name).symlink_to(entry)
    # Newer than pyproject.toml: make's install rule is satisfied.
    (venv / ".installed").touch()


def environment(copy: Path) -> dict[str, str]:
    env = {**os.environ, "PATH": f"{copy / '.venv' / 'bin'}{os.pathsep}{os.environ['PATH']}", "CI": "true"}
    env.pop("MLFLOW_TRACKING_URI", None)
    env.pop("VIRTUAL_ENV", None)
    return env


def run_in(copy: Path, command: list[str], timeout: int = BLOCK_TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=copy, env=environment(copy), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trained_copy(tmp_path_factory) -> Path:
    """A copy of the repository on the fixture corpus, committed, after `make run` (as a new user starts)."""
    copy = tmp_path_factory.mktemp("docs") / "project"
    shutil.copytree(REPO, copy, ignore=LEFT_BEHIND)
    shutil.copy(FIXTURE_CSV, copy / "data" / "raw" / "statements.csv")
    virtual_environment_in(copy)
    for command in (["git", "init", "-q"], ["git", "add", "-A"], ["git", "commit", "-q", "-m", "copy"]):
        assert run_in(copy, command).returncode == 0
    result = run_in(copy, ["make", "run"], timeout=900)
    assert result.returncode == 0, f"make run failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    # A second `make run` with nothing changed runs no stage and registers nothing (the follow-up that evaluates a
    # train run DVC skipped must not fire).
    again = run_in(copy, ["make", "run"], timeout=300)
    assert again.returncode == 0 and "Running stage" not in again.stdout + again.stderr, again.stdout[-2000:]
    registered = json.loads((copy / "reports" / "registered_model.json").read_text())
    assert registered["uri"].endswith("/1"), registered
    return copy


@pytest.mark.slow
@pytest.mark.parametrize("block", RUNNABLE, ids=[block.name for block in RUNNABLE])
def test_the_block_runs_as_pasted(trained_copy, block):
    if block.language == "bash":
        command = ["bash", "-c", "set -eo pipefail\n" + block.code]
    else:
        command = [str(trained_copy / ".venv" / "bin" / "python"), "-c", block.code]
    result = run_in(trained_copy, command)
    assert result.returncode == 0, (
        f"{block.name} failed (exit {result.returncode}); fix the block, or mark it "
        f"<!-- not-run: reason -->.\n--- block\n{block.code}--- stdout\n{result.stdout[-2000:]}\n"
        f"--- stderr\n{result.stderr[-3000:]}"
    )
