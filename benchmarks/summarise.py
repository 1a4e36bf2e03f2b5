"""Medians of benchmark JSON lines, as a Markdown table.

    python benchmarks/summarise.py bench-results/run-*.jsonl
"""

from __future__ import annotations

import json
import statistics
import sys
from collections import defaultdict


def main() -> None:
    runs: dict[tuple[str, str], list[dict[str, object]]] = defaultdict(list)
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    row = json.loads(line)
                    runs[(str(row["benchmark"]), str(row["database"]))].append(row)
    print("| benchmark | database | runs | median /s | all runs /s | failed |")
    print("|---|---|---|---|---|---|")
    for (name, database), rows in runs.items():
        rates = [float(r["per_second"]) for r in rows]  # type: ignore[arg-type]
        failed = sum(int(r.get("failed", 0)) for r in rows)  # type: ignore[call-overload]
        shown = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"| {name} | {database} | {len(rates)} | {statistics.median(rates):,.0f} | "
              f"{shown} | {failed} |")


if __name__ == "__main__":
    main()
