"""``make bench``: run every benchmark, then write ``docs/benchmarks.md`` and a JSON report.

Each benchmark runs in its own process (so one's memory or caches never flatter the next),
prints its figures and ratios against the baseline it measures in the same run, and, when
its ``main`` returns a dict, those figures land in the JSON report too. Growth with the
number of batches is measured by running size-parameterised benchmarks at three sizes.

**Cold cache.** The analytics benchmark reads each campaign's store contents from
``.twinfed/bench-cache/``; on a fresh clone that cache is empty and building it (simulation
and in-process site analysis of four 120-batch campaigns) takes longer than the rest of the
suite. So when seeds are missing, two builder processes (:mod:`benchmarks._prepare`) run on
the side track at idle CPU priority (``SCHED_IDLE``: they only get a core no timed benchmark
wants — most benchmarks are single-threaded on this 2-core machine); analytics runs last and
waits for them. The report says whether the run started cold and how long the builders took.

**Prefilled store.** The 10 sites x 1,000 batches federation run needs 32 M quads in its
store before it can time anything; that bulk fill (~7 min of one core) is done first on the
side track (``benchmarks.federation --fill-only``), and the run then times the sync write
path onto the full store and the scoped queries in the foreground (its bulk-load rate is the
10 x 100 run's; the fill time it prints is not a speed figure).

**Two tracks.** The timed benchmarks (speed figures) run one after the other at normal
priority. The quality benchmarks (``side=True``: models, equipment, live twin — their
figures are errors, coverage and counts) run one after the other on a side track at idle
priority beside the cache builders, so they use the core the timed benchmarks leave idle
and never take CPU from them; the seconds such a run prints are therefore not speed figures,
and the report marks them. Analytics (signature discovery, whose time is a figure) runs
last on the timed track, after the builders.

The whole suite must finish within :data:`TARGET_MIN` minutes here; the report states the
total wall time and whether it did.

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
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Issue 11: ``make bench`` completes here in under this many minutes (from a fresh clone).
TARGET_MIN = 20.0
#: Background processes building the analytics cache on a cold run.
PREPARE_WORKERS = 2
#: The run that reads the cache the builders write (it waits for them).
PREPARED_RUN = "analytics"
#: Side-track runs wait for idle CPU, so they get this many times the per-run timeout.
SIDE_TIMEOUT_FACTOR = 3


@dataclass(frozen=True)
class Run:
    """One benchmark invocation: a module of ``benchmarks/`` with its arguments."""

    name: str
    module: str
    args: tuple[str, ...] = ()
    what: str = ""
    #: A quality benchmark (its figures are errors and counts, not speed): it runs on the side
    #: track at idle CPU priority, beside the timed benchmarks (module docstring).
    side: bool = False
    #: Its store is bulk-filled ahead of it on the side track (``--fill-only DIR``); the run
    #: gets ``--prefilled DIR`` and waits for the fill.
    prefill: bool = False


#: The suite, in the order it runs. Modules that do not exist (yet) are reported as missing.
PLAN: tuple[Run, ...] = (
    Run("ingest", "ingest", what="site ingest: batched UNWIND vs one transaction per row"),
    Run("analysis_site", "analysis_site", what="site analysis: phases, features, envelopes"),
    Run("export", "export", what="RDF export + SHACL validation vs rdflib serialisation"),
    Run("twin", "twin", ("--n", "1000", "--ivp-batches", "20"),
        what="process twin: vectorised what-if vs solve_ivp"),
    Run("store-250", "store", ("--batches", "250", "--repeat", "10"),
        what="store load and scoped queries, 250 batches (embedded and remote Oxigraph)"),
    Run("store-500", "store", ("--batches", "500", "--repeat", "10", "--no-remote"),
        what="store, 500 batches (embedded)"),
    Run("store-1000", "store", ("--batches", "1000", "--repeat", "10", "--no-remote"),
        what="store, 1,000 batches (embedded)"),
    Run("federation-10x100", "federation",
        ("--sites", "10", "--batches-per-site", "100", "--sections", "scale,rdflib"),
        what="federation at 10 sites x 100 batches; rdflib ratio (end-to-end sync: dashboard)"),
    Run("questions", "questions", what="named questions p50/p95"),
    Run("models", "models", what="soft sensors and yield prediction vs naive baselines",
        side=True),
    Run("equipment", "equipment", what="equipment drift detection delay and false alarms",
        side=True),
    Run("livetwin", "livetwin", what="live twin forecast error and coverage", side=True),
    Run("packages", "packages", what="knowledge package build time"),
    Run("dashboard", "dashboard", what="dashboard server time per page; end-to-end sync"),
    Run("trust", "trust", what="fuzzing and fault-injection counts"),
    Run("federation-10x1000", "federation",
        ("--sites", "10", "--batches-per-site", "1000", "--sections", "scale"),
        what="federation at 10 sites x 1,000 batches: load and scoped SPARQL", prefill=True),
    # last, timed: on a cold run it waits for the background cache builders (docstring)
    Run("analytics", "analytics", what="signature discovery quality and time"),
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


def _idle_priority() -> None:
    """In the child before exec: run only when a core is otherwise idle."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):
        os.nice(19)


@dataclass
class Preparation:
    """The background builders of the analytics cache (none when it was warm)."""

    missing: str
    workers: list[tuple[subprocess.Popen, Path]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    seconds: float = 0.0
    waited_s: float = 0.0
    failed: bool = False

    @property
    def cold(self) -> bool:
        return self.missing != "none"

    def note(self) -> str:
        if not self.cold:
            return "warm: the analytics cache was already built (`.twinfed/bench-cache/`)"
        state = "FAILED (analytics built what was missing itself)" if self.failed else "done"
        return (f"cold: the analytics cache ({self.missing}) was built by {len(self.workers)} "
                f"background processes at idle priority while the other benchmarks ran, "
                f"{self.seconds:.0f} s from the start of the suite ({state}); the analytics "
                f"run waited {self.waited_s:.0f} s for them")


def _start_preparation(folder: Path) -> Preparation:
    listed = subprocess.run([sys.executable, "-m", "benchmarks._prepare", "--list"],
                            cwd=ROOT, capture_output=True, text=True)
    missing = listed.stdout.strip() if listed.returncode == 0 else "unknown"
    prep = Preparation(missing)
    if not prep.cold or listed.returncode != 0:
        return prep
    for worker in range(PREPARE_WORKERS):
        log = folder / f"prepare-{worker}.log"
        with log.open("w") as out:
            prep.workers.append((subprocess.Popen(
                [sys.executable, "-m", "benchmarks._prepare", "--worker", str(worker),
                 "--workers", str(PREPARE_WORKERS)], cwd=ROOT, stdout=out,
                stderr=subprocess.STDOUT, preexec_fn=_idle_priority), log))
    print(f"cold analytics cache ({missing}): {PREPARE_WORKERS} builders started at idle "
          "priority", flush=True)
    return prep


def _finish_preparation(prep: Preparation) -> None:
    waited = time.perf_counter()
    for process, log in prep.workers:
        if process.wait() != 0:
            prep.failed = True
            print(f"analytics cache builder failed (exit {process.returncode}):\n"
                  + log.read_text()[-3000:], flush=True)
        else:
            print(log.read_text().rstrip(), flush=True)
    prep.waited_s = time.perf_counter() - waited
    prep.seconds = time.perf_counter() - prep.started


def _execute(run: Run, timeout_s: float, idle: bool = False) -> Outcome:
    if not (ROOT / "benchmarks" / f"{run.module}.py").exists():
        return Outcome(run, "missing")
    with tempfile.TemporaryDirectory() as tmp:
        figures_path = Path(tmp) / "figures.json"
        started = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, "-m", "benchmarks._child", run.module, str(figures_path),
                 *run.args], cwd=ROOT, capture_output=True, text=True, timeout=timeout_s,
                preexec_fn=_idle_priority if idle else None)
        except subprocess.TimeoutExpired as exc:
            output = exc.stdout if isinstance(exc.stdout, str) else ""
            return Outcome(run, f"timed out after {timeout_s:.0f} s",
                           time.perf_counter() - started, output=output)
        wall = time.perf_counter() - started
        figures = json.loads(figures_path.read_text()) if figures_path.exists() else {}
        status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
        output = done.stdout + ("" if done.returncode == 0 else "\n" + done.stderr[-3000:])
        return Outcome(run, status, wall, figures, output)


def _verdict(total_s: float, partial: bool) -> str:
    if partial:
        return (f"sum of the runs' wall times (assembled from `--only` runs, not one run): "
                f"{total_s / 60:.1f} min")
    met = "met" if total_s < TARGET_MIN * 60 else "NOT met"
    return (f"total wall time {total_s / 60:.1f} min; target < {TARGET_MIN:.0f} min: {met}")


def _markdown(outcomes: list[Outcome], machine: dict[str, str], started: datetime,
              total_s: float, cache_note: str = "", partial: bool = False) -> str:
    lines = ["# Benchmarks", "",
             f"Measured by `make bench` (`python -m benchmarks.run_all`) on "
             f"{started:%Y-%m-%d %H:%M} UTC; {_verdict(total_s, partial)}.", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in machine.items() if v) + ".", "",
             *([f"Side track: {cache_note}.", ""] if cache_note else []),
             "Every benchmark measures its baseline in the same run and prints the ratio; "
             "the raw output of each is below, verbatim.", "",
             "| benchmark | what | status | wall (s) |", "|---|---|---|---|"]
    for o in outcomes:
        side = " (side track, idle priority)" if o.run.side else ""
        lines.append(f"| [{o.run.name}](#{o.run.name}) | {o.run.what}{side} | {o.status} | "
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
    finished: dict[str, Outcome] = {}
    printing = threading.Lock()
    prep: Preparation | None = None

    def record(outcome: Outcome) -> None:
        finished[outcome.run.name] = outcome
        track = " (side track)" if outcome.run.side else ""
        with printing:
            print(f"== {outcome.run.name}{track}: {outcome.run.what}")
            print(outcome.output.rstrip() or "(no output)")
            print(f"-- {outcome.run.name}: {outcome.status}, {outcome.wall_s:.0f} s\n",
                  flush=True)

    fills = {r.name: r for r in plan if r.prefill}
    filled = threading.Event()
    prep_started = threading.Event()
    fill_notes: list[str] = []

    def side_track(prep_dir: Path) -> None:
        nonlocal prep
        try:
            for run in fills.values():  # first: the timed track will wait for these
                started_fill = time.perf_counter()
                log = prep_dir / f"fill-{run.name}.log"
                with log.open("w") as out:
                    try:
                        code = subprocess.run(
                            [sys.executable, "-m", f"benchmarks.{run.module}", *run.args,
                             "--fill-only", str(prep_dir / f"fill-{run.name}")], cwd=ROOT,
                            stdout=out, stderr=subprocess.STDOUT, preexec_fn=_idle_priority,
                            timeout=args.timeout * SIDE_TIMEOUT_FACTOR).returncode
                    except subprocess.TimeoutExpired:
                        code = -1
                fill_notes.append(f"{run.name}: store filled on the side track in "
                                  f"{time.perf_counter() - started_fill:.0f} s"
                                  + ("" if code == 0 else f" — FAILED (exit {code}), the run "
                                     "loads it itself"))
        finally:
            filled.set()
        try:
            if any(r.name == PREPARED_RUN for r in plan):
                prep = _start_preparation(prep_dir)
        finally:
            prep_started.set()
        for run in [r for r in plan if r.side]:
            try:
                record(_execute(run, args.timeout * SIDE_TIMEOUT_FACTOR, idle=True))
            except Exception as error:  # noqa: BLE001 — reported, and the suite goes on
                record(Outcome(run, f"failed on the side track ({error!r})"))

    with tempfile.TemporaryDirectory(prefix="twinfed-bench-side-") as prep_dir:
        for name in fills:
            (Path(prep_dir) / f"fill-{name}").mkdir()
        side = threading.Thread(target=side_track, args=(Path(prep_dir),), name="side-track",
                                daemon=True)
        side.start()
        try:
            for run in [r for r in plan if not r.side]:
                timed = run
                if run.prefill:
                    waited = time.perf_counter()
                    filled.wait()
                    fill_notes.append(f"{run.name} waited {time.perf_counter() - waited:.0f} s "
                                      "for it")
                    timed = replace(run, args=(*run.args, "--prefilled",
                                               str(Path(prep_dir) / f"fill-{run.name}")))
                if run.name == PREPARED_RUN:
                    prep_started.wait()
                    if prep is not None and prep.workers:
                        _finish_preparation(prep)
                        with printing:
                            print(prep.note(), flush=True)
                outcome = _execute(timed, args.timeout)
                outcome.run = run  # the report shows the command without the temp folder
                record(outcome)
            side.join()
        finally:
            for process, _ in prep.workers if prep is not None else []:
                if process.poll() is None:  # interrupted: do not leave builders behind
                    process.terminate()
                    process.wait()
    total = time.perf_counter() - clock
    machine = _machine()
    partial = chosen is not None
    cache_note = "; ".join(([prep.note()] if prep is not None else []) + fill_notes)
    outcomes = [finished[r.name] for r in plan if r.name in finished]
    if partial and args.json.exists():  # --only: keep the other runs' results
        previous = json.loads(args.json.read_text())
        outcomes = _merged(outcomes, previous)
        total = sum(o.wall_s for o in outcomes)
        cache_note = cache_note or previous.get("analytics_cache", "")
    args.out.write_text(_markdown(outcomes, machine, started, total, cache_note, partial))
    args.json.write_text(json.dumps({
        "started": started.isoformat(), "total_s": total, "machine": machine,
        "target_min": TARGET_MIN, "partial": partial,
        "met_target": None if partial else total < TARGET_MIN * 60,
        "analytics_cache": cache_note,
        "runs": [{**asdict(o.run), "status": o.status, "wall_s": o.wall_s,
                  "figures": o.figures, "output": o.output} for o in outcomes]}, indent=1))
    print(f"report: {args.out} and {args.json}; {_verdict(total, partial)}"
          + (f"\nside track: {cache_note}" if cache_note else ""))
    return 0 if all(o.status in ("ok", "missing") for o in outcomes) else 1


if __name__ == "__main__":
    raise SystemExit(main())
