"""Fixtures for the parser tests: the statement files of sandbank's fixture world.

The files come from `cargo run --example statement_files -- DIR` (the fixture world of
`src/statements/fixture.rs` rendered in every format, plus a synthetic day with refunds)
with `truth.json`, what the ledger says they must contain. Set SANDBANK_STATEMENT_DIR to a
directory that already holds them to skip the cargo run.
"""
import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def statement_dir(tmp_path_factory):
    given = os.environ.get("SANDBANK_STATEMENT_DIR")
    if given and (pathlib.Path(given) / "truth.json").exists():
        return pathlib.Path(given)
    out = tmp_path_factory.mktemp("statements")
    subprocess.run(
        ["cargo", "run", "--quiet", "--example", "statement_files", "--", str(out)],
        cwd=REPO,
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def truth(statement_dir):
    return json.loads((statement_dir / "truth.json").read_text(encoding="utf-8"))
