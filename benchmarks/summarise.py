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
    searches: list[dict[str, object]] = []
    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as lines:
            for line in lines:
                if line.strip():
                    row = json.loads(line)
                    if "per_second" in row:
                        runs[(str(row["benchmark"]), str(row["database"]))].append(row)
                    else:
                        searches.append(row)
    print("| benchmark | database | runs | median /s | all runs /s | failed |")
    print("|---|---|---|---|---|---|")
    for (name, database), rows in runs.items():
        rates = [float(r["per_second"]) for r in rows]  # type: ignore[arg-type]
        failed = sum(int(r.get("failed", 0)) for r in rows)  # type: ignore[call-overload]
        shown = ", ".join(f"{r:,.0f}" for r in rates)
        print(f"| {name} | {database} | {len(rates)} | {statistics.median(rates):,.0f} | "
              f"{shown} | {failed} |")
    if searches:
        print()
        for row in searches:  # search latencies, sizes and build times: one line each
            print(json.dumps(row, ensure_ascii=False))


if __name__ == "__main__":
    main()
