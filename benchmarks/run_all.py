"""``make bench``: run every benchmark, then write ``docs/benchmarks.md`` and a JSON report.

Each benchmark runs in its own process (so one's memory or caches never flatter the next),
prints its figures and ratios against the baseline it measures in the same run, and, when
its ``main`` returns a dict, those figures land in the JSON report too. Growth with the
number of batches is measured by running size-parameterised benchmarks at three sizes.

Run: ``python -m benchmarks.run_all [--only NAME,...] [--out docs/benchmarks.md]``; with
``--only`` the other runs' earlier results (kept in the JSON report) stay in the report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Run:
    """One benchmark invocation: a module of ``benchmarks/`` with its arguments."""

    name: str
    module: str
    args: tuple[str, ...] = ()
    what: str = ""


#: The suite, in the order it runs. Modules that do not exist (yet) are reported as missing.
PLAN: tuple[Run, ...] = (
    Run("ingest", "ingest", what="site ingest: batched UNWIND vs one transaction per row"),
    Run("analysis_site", "analysis_site", what="site analysis: phases, features, envelopes"),
    Run("export", "export", what="RDF export + SHACL validation vs rdflib serialisation"),
    Run("twin", "twin", ("--n", "1000", "--ivp-batches", "20"),
        what="process twin: vectorised what-if vs solve_ivp"),
    Run("store-500", "store", ("--batches", "500", "--repeat", "10"),
        what="store load and scoped queries, 500 batches (embedded and remote Oxigraph)"),
    Run("store-1000", "store", ("--batches", "1000", "--repeat", "10", "--no-remote"),
        what="store, 1,000 batches (embedded)"),
    Run("store-2000", "store", ("--batches", "2000", "--repeat", "10", "--no-remote"),
        what="store, 2,000 batches (embedded)"),
    Run("federation-10x100", "federation",
        ("--sites", "10", "--batches-per-site", "100", "--sections", "scale,rdflib,sync"),
        what="federation at 10 sites x 100 batches; rdflib ratio; HTTP sync throughput"),
    Run("federation-10x1000", "federation",
        ("--sites", "10", "--batches-per-site", "1000", "--sections", "scale"),
        what="federation at 10 sites x 1,000 batches: load and scoped SPARQL"),
    Run("questions", "questions", what="named questions p50/p95"),
    Run("analytics", "analytics", what="signature discovery quality and time"),
    Run("models", "models", what="soft sensors and yield prediction vs naive baselines"),
    Run("equipment", "equipment", what="equipment drift detection delay and false alarms"),
    Run("livetwin", "livetwin", what="live twin forecast error and coverage"),
    Run("packages", "packages", what="knowledge package build time"),
    Run("dashboard", "dashboard", what="dashboard server time per page"),
    Run("trust", "trust", what="fuzzing and fault-injection counts"),
)


@dataclass
class Outcome:
    run: Run
    status: str
    wall_s: float = 0.0
    figures: dict = field(default_factory=dict)
    output: str = ""


def _machine() -> dict[str, str]:
    cpus = os.cpu_count() or 0
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        total_kib = int(meminfo.read_text().split()[1])
        memory = f"{total_kib / 2**20:.0f} GiB"
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": str(cpus), "memory": memory,
            "processor": platform.processor() or platform.machine()}


def _execute(run: Run, timeout_s: float) -> Outcome:
    if not (ROOT / "benchmarks" / f"{run.module}.py").exists():
        return Outcome(run, "missing")
    with tempfile.TemporaryDirectory() as tmp:
        figures_path = Path(tmp) / "figures.json"
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks._child", run.module, str(figures_path),
                 *run.args], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:
            output = exc.stdout if isinstance(exc.stdout, str) else ""
            return Outcome(run, f"timed out after {timeout_s:.0f} s",
                           time.perf_counter() - started, output=output)
        wall = time.perf_counter() - started
        figures = json.loads(figures_path.read_text()) if figures_path.exists() else {}
        status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
        output = done.stdout + ("" if done.returncode == 0 else "\n" + done.stderr[-3000:])
        return Outcome(run, status, wall, figures, output)


def _markdown(outcomes: list[Outcome], machine: dict[str, str], started: datetime,
              total_s: float) -> str:
    lines = ["# Benchmarks", "",
             f"Measured by `make bench` (`python -m benchmarks.run_all`) on "
             f"{started:%Y-%m-%d %H:%M} UTC, {total_s / 60:.1f} min in all.", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items() if v) + ".", "",
             "Every benchmark measures its baseline in the same run and prints the ratio; "
             "the raw output of each is below, verbatim.", "",
             "| benchmark | what | status | wall (s) |", "|---|---|---|---|"]
    for o in outcomes:
        lines.append(f"| [{o.run.name}](#{o.run.name}) | {o.run.what} | {o.status} | "
                     f"{o.wall_s:.0f} |")
    for o in outcomes:
        if o.status == "missing":
            continue
        lines += ["", f"## {o.run.name}", "",
                  f"`python -m benchmarks.{o.run.module} {' '.join(o.run.args)}`".rstrip(), "",
                  "```text", o.output.rstrip(), "```"]
    return "\n".join(lines) + "\n"


def _merged(fresh: list[Outcome], previous: dict) -> list[Outcome]:
    """The plan's order, with fresh outcomes where run and earlier ones (and their output,
    kept in the JSON report) elsewhere."""
    by_name = {o.run.name: o for o in fresh}
    for entry in previous.get("runs", []):
        run = next((r for r in PLAN if r.name == entry["name"]), None)
        if run is not None and run.name not in by_name:
            by_name[run.name] = Outcome(run, entry["status"], entry["wall_s"],
                                        entry.get("figures", {}), entry.get("output", ""))
    return [by_name[r.name] for r in PLAN if r.name in by_name]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated run names (default: all)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    parser.add_argument("--json", type=Path, default=ROOT / "docs" / "benchmarks.json")
    parser.add_argument("--timeout", type=float, default=900, help="per benchmark, seconds")
    args = parser.parse_args(argv)
    chosen = set(args.only.split(",")) if args.only else None
    plan = [r for r in PLAN if chosen is None or r.name in chosen]
    started, clock = datetime.now(UTC), time.perf_counter()
    outcomes = []
    for run in plan:
        print(f"== {run.name}: {run.what}", flush=True)
        outcome = _execute(run, args.timeout)
        print(outcome.output.rstrip() or "(no output)")
        print(f"-- {run.name}: {outcome.status}, {outcome.wall_s:.0f} s\n", flush=True)
        outcomes.append(outcome)
    total = time.perf_counter() - clock
    machine = _machine()
    if chosen is not None and args.json.exists():  # --only: keep the other runs' results
        outcomes = _merged(outcomes, json.loads(args.json.read_text()))
        total = sum(o.wall_s for o in outcomes)
    args.out.write_text(_markdown(outcomes, machine, started, total))
    args.json.write_text(json.dumps({
        "started": started.isoformat(), "total_s": total, "machine": machine,
        "runs": [{**asdict(o.run), "status": o.status, "wall_s": o.wall_s,
                  "figures": o.figures, "output": o.output} for o in outcomes]}, indent=1))
    print(f"report: {args.out} and {args.json} ({total / 60:.1f} min)")
    return 0 if all(o.status in ("ok", "missing") for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
