#!/usr/bin/env bash
# Regenerate docs/cli.md from the command's own help texts (tests/cli/test_cli_docs.py
# fails when it is out of date).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m typer custmdm.cli.main utils docs --name custmdm --title "custmdm command reference" --output docs/cli.md
