"""The command reference in docs/cli.md is generated from the code and kept current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_current(tmp_path: Path) -> None:
    generated = tmp_path / "cli.md"
    subprocess.run(
        [sys.executable, "-m", "typer", "custmdm.cli.main", "utils", "docs", "--name",
         "custmdm", "--title", "custmdm command reference", "--output", str(generated)],
        check=True, capture_output=True,
    )
    current = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert generated.read_text(encoding="utf-8") == current, (
        "docs/cli.md is out of date: run tools/gen_cli_docs.sh"
    )
