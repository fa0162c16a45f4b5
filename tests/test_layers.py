"""The house's layers (issue 24, item 1): every import points down,
cli -> app -> web_ui | offline -> service -> store | vision -> core, function-local
imports included (import-linter's `layers` contract, pyproject.toml)."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_import_points_down_the_layers():
    r = subprocess.run([sys.executable, "-c", "from importlinter.cli import lint_imports_command;"
                        "lint_imports_command()", "--no-cache"], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    assert "1 kept, 0 broken" in r.stdout, r.stdout[-2000:]


def test_no_test_module_imports_another_or_conftest():
    """Shared test code lives in tests/helpers.py (and fixtures in conftest.py,
    which pytest hands out): a test module that imports another's helpers runs
    that module's import-time code, and hides where the helper lives."""
    import re

    found = []
    for path in sorted((REPO / "tests").glob("test_*.py")):
        for n, line in enumerate(path.read_text().splitlines(), 1):
            if re.match(r"\s*(from tests(\.test_\w+|\.conftest)? import|import tests\.test_)",
                        line) and not re.match(r"\s*from tests import (fakes|helpers)\b", line):
                found.append(f"{path.name}:{n}: {line.strip()}")
    assert found == []
