"""Raw PostgreSQL peers, measured with pgbench on the same server in the same run.

    python benchmarks/pgbench_peer.py --db URL --script sequence_insert|counter_insert \\
        [--clients 8] [--seconds 10]

Prints one JSON line with pgbench's transactions per second and failed transactions.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import subprocess
from pathlib import Path

HERE = Path(__file__).parent / "pgbench"


def pg_tool(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", required=True)
    parser.add_argument("--script", choices=["sequence_insert", "counter_insert"], required=True)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=int, default=10)
    args = parser.parse_args()
    url = args.db.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run([pg_tool("psql"), url, "-q", "-v", "ON_ERROR_STOP=1",
                    "-f", str(HERE / "setup.sql")], check=True, capture_output=True)
    out = subprocess.run(
        [pg_tool("pgbench"), "-n", "-c", str(args.clients), "-j", "2", "-T", str(args.seconds),
         "-f", str(HERE / f"{args.script}.sql"), url],
        check=True, capture_output=True, text=True,
    ).stdout
    tps = float(re.search(r"tps = ([0-9.]+)", out).group(1))  # type: ignore[union-attr]
    failed = re.search(r"number of failed transactions: (\d+)", out)
    print(json.dumps({
        "benchmark": f"pgbench-{args.script.replace('_', '-')}", "database": "postgresql",
        "workers": args.clients, "per_second": round(tps, 1),
        "failed": int(failed.group(1)) if failed else 0,
    }))


if __name__ == "__main__":
    main()
