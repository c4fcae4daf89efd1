"""``twinfed federation signatures discover|list|show|match``: failure signatures over HTTP.

Every command talks to a running federation (``--url``/``--token``, or the environment
variables ``TWINFED_FEDERATION_URL`` and ``TWINFED_FEDERATION_TOKEN``) and sees exactly
what that token's sponsor scope allows. :func:`show_discovered_signatures` is the demo step.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

import httpx
import typer
from rich.table import Table

from bioprocess.errors import StoreUnavailableError, TwinfedError, ValidationError
from twinfed.console import out

signatures_app = typer.Typer(help="Recurring failure signatures: discover, list, show, match "
                                  "a batch (talks HTTP to a federation).",
                             no_args_is_help=True)

UrlOption = Annotated[str, typer.Option("--url", help="federation base URL "
                                        "(TWINFED_FEDERATION_URL)")]
TokenOption = Annotated[str, typer.Option("--token", help="user token "
                                          "(TWINFED_FEDERATION_TOKEN)")]


class FederationRequestError(TwinfedError):
    """The federation refused a request; the message is its problem document."""


def _call(method: str, path: str, url: str, token: str, **kwargs: Any) -> Any:
    url = url or os.environ.get("TWINFED_FEDERATION_URL", "")
    token = token or os.environ.get("TWINFED_FEDERATION_TOKEN", "")
    if not url or not token:
        raise ValidationError("--url and --token (or TWINFED_FEDERATION_URL and "
                              "TWINFED_FEDERATION_TOKEN) are required")
    try:
        response = httpx.request(method, url.rstrip("/") + path, timeout=600,
                                 headers={"Authorization": f"Bearer {token}"}, **kwargs)
    except httpx.HTTPError as exc:
        raise StoreUnavailableError(f"cannot reach the federation at {url}: {exc}") from exc
    if response.status_code >= 400:
        try:
            problem = response.json()
            detail = problem.get("detail") or problem.get("title") or response.text
        except ValueError:
            detail = response.text[:300]
        raise FederationRequestError(f"the federation answered {response.status_code}: "
                                     f"{detail}")
    return response.json()


def _impact(signature: dict[str, Any]) -> str:
    impact = signature.get("impact") or {}
    return impact.get("in_words") or "impact unknown"


def _print_signature(signature: dict[str, Any]) -> None:
    out.rule(f"{signature['id']} (v{signature['version']}, {signature['kind']}"
             f"{', sponsor ' + signature['sponsor'] if signature.get('sponsor') else ''})")
    out.print(signature["definition"], highlight=False)
    if signature.get("sites"):
        out.print(f"sites: {', '.join(signature['sites'])}; first seen "
                  f"{signature.get('first_seen')}, last seen {signature.get('last_seen')}; "
                  f"{_impact(signature)}", highlight=False)


def print_run(result: dict[str, Any]) -> None:
    settings = ", ".join(f"{k} {v}" for k, v in result["settings"].items())
    out.print(f"settings: {settings}", highlight=False)
    for run in result["runs"]:
        found = run["signatures"]
        out.print(f"sponsor {run['sponsor']}: {run['batches_read']} batches read, "
                  f"{len(found)} recurring signature(s) (run {run['run']})", highlight=False)
        if not found:
            out.print("  no deviation pattern recurs under these settings", highlight=False)
        for signature in found:
            _print_signature(signature)
            members = ", ".join(m["batch_id"] for m in signature["member_batches"])
            out.print(f"members: {members}", highlight=False)
            for d in signature["deviations"]:
                capa = "; ".join(f"{c['capa_id']} {c['action']} (effective: "
                                 f"{'unknown' if c['effective'] is None else c['effective']})"
                                 for c in d["capa"]) or "no CAPA"
                out.print(f"  deviation {d['deviation_id']} ({d['batch_id']}, {d['category']}):"
                          f" root cause {d['root_cause'] or 'not found'}; {capa}",
                          highlight=False)


@signatures_app.command("discover")
def discover(
    url: UrlOption = "", token: TokenOption = "",
    min_sites: Annotated[int, typer.Option(help="keep groups seen at this many sites")] = 2,
    min_batches: Annotated[int, typer.Option(help="... or with this many batches (0: off)")]
    = 0,
    distance_threshold: Annotated[float | None, typer.Option(
        help="cosine distance cut (default: the server's)")] = None,
    min_magnitude: Annotated[float, typer.Option(
        help="smallest event (envelope SDs) that is evidence")] = 3.0,
    disagreement: Annotated[bool | None, typer.Option(
        "--disagreement/--no-disagreement",
        help="also use redundant-minus-record measurement disagreement as evidence "
             "(default: the server's, off)")] = None,
) -> None:
    """Run signature discovery for every sponsor you may see (a new version each run)."""
    settings: dict[str, Any] = {"min_sites": min_sites, "min_batches": min_batches,
                                "min_magnitude": min_magnitude}
    if distance_threshold is not None:
        settings["distance_threshold"] = distance_threshold
    if disagreement is not None:
        settings["disagreement"] = disagreement
    print_run(_call("POST", "/signatures/discover", url, token, json=settings))


@signatures_app.command("list")
def list_signatures(url: UrlOption = "", token: TokenOption = "") -> None:
    """List the latest version of every signature you may see, then the curated ones."""
    rows = _call("GET", "/signatures", url, token)
    table = Table("id", "kind", "version", "sponsor", "members", "sites", "label", "impact")
    for s in rows:
        table.add_row(s["id"], s["kind"], str(s["version"]), s.get("sponsor") or "",
                      str(s["members"]), ", ".join(s["sites"]), s["label"],
                      _impact(s) if s["kind"] == "discovered" else "")
    out.print(table)


@signatures_app.command("show")
def show(signature_id: str, url: UrlOption = "", token: TokenOption = "") -> None:
    """Show one signature: definition, events, members, impact, deviations and CAPA."""
    s = _call("GET", f"/signatures/{httpx.URL(signature_id).raw_path.decode()}", url, token)
    _print_signature(s)
    table = Table("event", "share of members", "typical magnitude (SD)")
    for e in s["defining_events"]:
        magnitude = e.get("typical_magnitude")
        table.add_row(e["in_words"], f"{e['share']:.0%}",
                      "" if magnitude is None else f"{magnitude:.1f}")
    out.print(table)
    if s["member_batches"]:
        out.print("members: " + ", ".join(m["batch_id"] for m in s["member_batches"]),
                  highlight=False)
    for d in s["deviations"]:
        capa = "; ".join(f"{c['capa_id']} {c['action']} (effective: {c['effective']})"
                         for c in d["capa"]) or "no CAPA"
        out.print(f"deviation {d['deviation_id']} ({d['batch_id']}): {d['description']}; "
                  f"root cause {d['root_cause'] or 'not found'}; {capa}", highlight=False)
    if s.get("earlier_versions"):
        out.print("earlier versions: " + ", ".join(s["earlier_versions"]), highlight=False)


@signatures_app.command("match")
def match(batch: Annotated[str, typer.Argument(help="batch id, SITE/BATCH_ID or batch IRI")],
          url: UrlOption = "", token: TokenOption = "") -> None:
    """Score a batch against every signature you may see and explain each score."""
    result = _call("GET", "/signatures/match", url, token, params={"batch": batch})
    b = result["batch"]
    out.print(f"batch {b['batch_id']} at {b['site']}: {b['events']} aligned event kinds",
              highlight=False)
    table = Table("signature", "kind", "score", "why")
    for m in result["matches"]:
        table.add_row(f"{m['signature']['id']}: {m['signature']['label']}",
                      m["signature"]["kind"], f"{m['score']:.2f}", m["explanation"])
    out.print(table)


def show_discovered_signatures(url: str, token: str) -> None:
    """Demo step: discover signatures on the federation and print them in words."""
    out.rule("recurring failure signatures")
    print_run(_call("POST", "/signatures/discover", url, token, json={}))
