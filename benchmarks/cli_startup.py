"""How long a `taskgroup` command takes to start, now that reading commands load neither torch nor
matplotlib, side by side with the same commands when those are loaded first (as every command did
before 2026-12-01, when the CLI imported them at start).

    .venv/bin/python benchmarks/cli_startup.py --repeats 7

Each command runs in a fresh interpreter on a throwaway SQLite database with a small imported
study; the figure is the median wall time of `--repeats` runs, taken in alternation (light, eager,
light, ...) so that machine load hits both alike.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = {
    "--help": ["--help"],
    "study list": ["study", "list"],
    "status": ["status", "s"],
    "select": ["select", "s", "--budget", "2", "--json"],
}
EAGER = "import torch, torchvision, matplotlib.figure\n"
RESULTS = ("tasks,size,cost,stage,split,task,loss\n"
           "a,full,1,full,val,a,0.5\nb,full,1,full,val,b,0.6\na+b,full,1,full,val,a,0.4\na+b,full,1,full,val,b,0.7\n")


def _run(args: list[str], db: str, eager: bool) -> float:
    """Seconds for one command in a fresh interpreter (CLI entry point, as the `taskgroup` script runs it)."""
    entry = "import sys\nfrom taskgroup.cli.main import app\nsys.argv = ['taskgroup', *sys.argv[1:]]\napp()\n"
    code = (EAGER if eager else "") + entry
    wanted = args if args == ["--help"] else [*args, "--db", db]
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, *wanted], check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    repeats = parser.parse_args().repeats
    with tempfile.TemporaryDirectory() as folder:
        db = f"sqlite:///{Path(folder) / 'startup.sqlite'}"
        csv = Path(folder) / "r.csv"
        csv.write_text(RESULTS)
        for setup in (["study", "create", "s", "--tasks", "a,b", "--sizes", "full=1.0"], ["import", "s", str(csv)]):
            _run(setup, db, eager=False)
        print("| command | light (s) | torch and matplotlib loaded first (s) | ratio |")
        print("|---|---:|---:|---:|")
        for name, args in COMMANDS.items():
            light, eager = [], []
            for _ in range(repeats):
                light.append(_run(args, db, eager=False))
                eager.append(_run(args, db, eager=True))
            light_s, eager_s = statistics.median(light), statistics.median(eager)
            print(f"| `taskgroup {name}` | {light_s:.2f} | {eager_s:.2f} | {eager_s / light_s:.1f}x |")


if __name__ == "__main__":
    main()
