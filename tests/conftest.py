"""Fixtures shared by the whole suite: the repo, ../shared, the schema, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
IMAGES = REPO / "testdata" / "images"


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def images() -> Path:
    return IMAGES


@pytest.fixture(scope="session")
def shared() -> Path:
    if not (SHARED / "DESIGN.md").is_file():
        pytest.skip(f"{SHARED} is absent: the shared reference material and corpus are needed")
    return SHARED


@pytest.fixture(scope="session")
def corpus(shared: Path) -> Path:
    path = shared / "corpus"
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


@pytest.fixture(scope="session")
def schema_validator():
    jsonschema = pytest.importorskip("jsonschema")
    path = SHARED / "schema" / "artifacts.schema.json"
    if not path.is_file():
        pytest.skip(f"{path} is absent: cannot validate against the output contract")
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


class CliResult:
    def __init__(self, proc: subprocess.CompletedProcess[str]) -> None:
        self.code = proc.returncode
        self.out = proc.stdout
        self.err = proc.stderr

    def __repr__(self) -> str:
        return f"exit {self.code}\nstdout:\n{self.out}\nstderr:\n{self.err}"


@pytest.fixture
def cli(tmp_path: Path):
    """Run the real command line in a subprocess, with no terminal on stdin."""

    def run(
        *args: str,
        env: dict[str, str] | None = None,
        input: str | None = None,
        cwd: Path | None = None,
    ) -> CliResult:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("VMF_")}
        full_env.setdefault("SOURCE_DATE_EPOCH", "1767225600")
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "vmforensics", *args],
            capture_output=True,
            text=True,
            env=full_env,
            input=input if input is not None else "",
            cwd=cwd or tmp_path,
            timeout=600,
        )
        return CliResult(proc)

    return run
