"""``twinfed federation ask`` and ``compare``: named questions and site comparison over HTTP.

Both talk to a running federation (``--url``, ``--token``; defaults from
``TWINFED_FED_URL`` and ``TWINFED_FED_TOKEN``) and print rich tables; ``--json`` prints the
API's JSON instead. :func:`show_question` and :func:`show_comparison` are what the demo
calls.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from twinfed.console import err, out

UrlOption = Annotated[str, typer.Option("--url", envvar="TWINFED_FED_URL",
                                        help="federation base URL (TWINFED_FED_URL)")]
TokenOption = Annotated[str | None, typer.Option("--token", envvar="TWINFED_FED_TOKEN",
                                                 help="your user token (TWINFED_FED_TOKEN)")]
JsonOption = Annotated[bool, typer.Option("--json", help="print the API's JSON")]
DEFAULT_URL = "http://127.0.0.1:8700"
#: Evidence IRIs printed per list cell before "+N more".
EVIDENCE_SHOWN = 4


def _get(url: str, token: str | None, path: str, params: dict[str, str]) -> Any:
    """GET ``path`` as JSON; a problem document or a network failure ends the command with
    one readable line."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        response = httpx.get(url.rstrip("/") + path, params=params, headers=headers,
                             timeout=300)
    except httpx.HTTPError as exc:
        err.print(f"cannot reach the federation at {url}: {exc}", highlight=False)
        raise typer.Exit(1) from exc
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail", response.text)
        except ValueError:
            detail = response.text
        err.print(f"{response.status_code}: {detail}", highlight=False)
        raise typer.Exit(1)
    return response.json()


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return f"{len(value)}"
    return str(value)


def print_catalogue(catalogue: list[dict[str, Any]]) -> None:
    table = Table("name", "title", "parameters (default)", title="Named questions")
    for q in catalogue:
        params = ", ".join(f"{p['name']}={p['default']!s}" for p in q["parameters"])
        table.add_row(q["name"], q["title"], params)
    out.print(table)


#: More answer columns than this are printed as one block per row instead of a table.
WIDEST_TABLE = 8


def print_answer(answer: dict[str, Any]) -> None:
    """The answer's rows as a table, then each row's evidence IRIs."""
    evidence = {e["column"] for e in answer["evidence"]}
    shown = [c for c in answer["columns"] if c not in evidence]
    out.rule(answer["title"])
    out.print(answer["description"], highlight=False)
    out.print("parameters: " + ", ".join(f"{k}={v}" for k, v in answer["parameters"].items()),
              highlight=False)
    if not answer["rows"]:
        out.print("no rows match", highlight=False)
        return
    if len(shown) <= WIDEST_TABLE:
        table = Table("#", *shown)
        for index, row in enumerate(answer["rows"], 1):
            table.add_row(str(index), *(_cell(row.get(c)) for c in shown))
        out.print(table)
    else:  # too many columns for a readable table: one block of "column: value" per row
        for index, row in enumerate(answer["rows"], 1):
            out.print(f"{index}.", highlight=False)
            for column in shown:
                out.print(f"   {column}: {_cell(row.get(column))}", highlight=False,
                          soft_wrap=True)
    out.print("evidence (IRIs to follow):", highlight=False)
    for index, row in enumerate(answer["rows"], 1):
        for column in [e["column"] for e in answer["evidence"]]:
            value = row.get(column)
            if not value:
                continue
            items = value if isinstance(value, list) else [value]
            more = f" (+{len(items) - EVIDENCE_SHOWN} more)" if len(items) > EVIDENCE_SHOWN else ""
            out.print(f"  {index}. {column}: {' '.join(items[:EVIDENCE_SHOWN])}{more}",
                      highlight=False, soft_wrap=True)
    if answer.get("truncated"):
        out.print("(truncated at the federation's result limit)", highlight=False)


def _local(iri: str | None) -> str:
    return (iri or "").rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def print_comparison(comparison: dict[str, Any], *, top: int = 8,
                     differences: int | None = None) -> None:
    """Batches, the most different parameters, outcomes with Cpk, and the differences (the
    first ``differences`` of them; None: all)."""
    sites = comparison["sites"]
    out.rule(f"process {comparison['process']}: {' vs '.join(sites)}")
    out.print("batches: " + "; ".join(f"{s} {comparison['batches'][s]['count']}"
                                      for s in sites), highlight=False)
    table = Table("parameter", "phase", "stat", *[f"{s} mean ± SD (n)" for s in sites],
                  "separation (pooled SD)",
                  title=f"Largest site-to-site differences (top {top})")
    for item in comparison["parameters"][:top]:
        cells = []
        constant = item.get("constant_within_sites")
        for s in sites:
            summary = item["sites"][s]["summary"]
            spread = "constant" if constant else f"± {_cell(summary['sd']) or '?'}"
            cells.append("—" if not summary["n"] else
                         f"{summary['mean']:.4g} {spread} ({summary['n']})")
        table.add_row(_local(item["parameter"]), item["phase"], item["statistic"], *cells,
                      "constant per site" if constant else _cell(item["separation"]))
    out.print(table)
    outcomes = Table("outcome", *[f"{s} mean (n)" for s in sites],
                     *[f"{s} Cpk" for s in sites], title="Outcomes and capability")
    for item in comparison["outcomes"]:
        means, caps = [], []
        for s in sites:
            site = item["sites"][s]
            means.append("—" if not site["summary"]["n"] else
                         f"{site['summary']['mean']:.4g} {item['unit'] or ''} "
                         f"({site['summary']['n']})")
            cap = site["capability"]
            caps.append(f"{cap['cpk']:.2f}" if cap["cpk"] is not None else cap["note"])
        outcomes.add_row(_local(item["parameter"]), *means, *caps)
    out.print(outcomes)
    out.print("differences:", highlight=False)
    lines = comparison["differences"]
    for line in lines if differences is None else lines[:differences]:
        out.print(f"  - {line}", highlight=False)
    if differences is not None and len(lines) > differences:
        out.print(f"  ... {len(lines) - differences} more (twinfed federation compare)",
                  highlight=False)


def _params(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            err.print(f"--param must be NAME=VALUE; got '{pair}' instead", highlight=False)
            raise typer.Exit(2)
        found[key.strip()] = value
    return found


def ask(
    name: Annotated[str | None, typer.Argument(help="question name; none: list them")] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p",
                                                    help="NAME=VALUE, repeatable")] = None,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Ask a named diagnostic question (no NAME: list the questions)."""
    if name is None:
        catalogue = _get(url, token, "/questions", {})
        out.print_json(json.dumps(catalogue)) if as_json else print_catalogue(catalogue)
        return
    answer = _get(url, token, f"/questions/{name}", _params(param or []))
    out.print_json(json.dumps(answer)) if as_json else print_answer(answer)


def compare(
    process: Annotated[str, typer.Option("--process", help="process code")],
    sites: Annotated[str | None, typer.Option("--sites", help="comma-separated site codes "
                                              "(default: every site that ran it)")] = None,
    statistics: Annotated[str, typer.Option(help="comma-separated feature statistics")]
    = "mean",
    top: Annotated[int, typer.Option(help="parameter rows printed")] = 8,
    url: UrlOption = DEFAULT_URL,
    token: TokenOption = None,
    as_json: JsonOption = False,
) -> None:
    """Compare sites on one process: parameters per phase, outcomes and Cpk, equipment."""
    params = {"process": process, "statistics": statistics}
    if sites:
        params["sites"] = sites
    comparison = _get(url, token, "/compare", params)
    out.print_json(json.dumps(comparison)) if as_json else print_comparison(comparison, top=top)


def register(app: typer.Typer) -> None:
    """Add ``ask`` and ``compare`` to the federation command group."""
    app.command("ask")(ask)
    app.command("compare")(compare)


def show_question(url: str, token: str, name: str, params: dict[str, str] | None = None
                  ) -> dict[str, Any]:
    """Demo step: ask ``name`` through ``GET /questions/{name}`` and print it with evidence."""
    answer = _get(url, token, f"/questions/{name}", params or {})
    print_answer(answer)
    return answer


def show_comparison(url: str, token: str, process: str | None = None,
                    sites: str | None = None) -> dict[str, Any] | None:
    """Demo step: compare the sites on ``process`` (default: the process most sites ran,
    found with the ``site_differences`` question) and print the short version."""
    if process is None:
        rows = _get(url, token, "/questions/site_differences", {"top": "1"})["rows"]
        if not rows:
            out.print("no process ran at two or more sites: nothing to compare",
                      highlight=False)
            return None
        process = rows[0]["processCode"]
    params = {"process": process}
    if sites:
        params["sites"] = sites
    comparison = _get(url, token, "/compare", params)
    print_comparison(comparison, top=5, differences=10)
    return comparison
