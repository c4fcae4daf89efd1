"""``twinfed federation ...``: run the federation and manage its registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from federation.config import FederationSettings
from federation.registry.service import Registry
from twinfed.audit_cli import audit_app, cli_record
from twinfed.console import out
from twinfed.package_cli import federation_package_app
from twinfed.signatures_cli import signatures_app

federation_app = typer.Typer(help="The federation: registry, sync inbox, aligned store, "
                                  "SPARQL endpoint.", no_args_is_help=True)
federation_app.add_typer(audit_app, name="audit")
federation_app.add_typer(signatures_app, name="signatures")
federation_app.add_typer(federation_package_app, name="package")

DataOption = Annotated[Path | None, typer.Option("--data", help="federation data directory "
                                                 "(TWINFED_FED_DATA)")]


def _settings(data: Path | None, **overrides: object) -> FederationSettings:
    values = {k: v for k, v in {"data": data, **overrides}.items() if v is not None}
    return FederationSettings(**values)


@federation_app.command("serve")
def serve(
    data: DataOption = None,
    port: Annotated[int | None, typer.Option(help="port (TWINFED_FED_PORT)")] = None,
    host: Annotated[str | None, typer.Option(help="bind address")] = None,
    store_url: Annotated[str | None, typer.Option(help="remote SPARQL server base URL")]
    = None,
) -> None:
    """Serve the federation API until interrupted (docs at /docs)."""
    import uvicorn

    from federation.api.app import create_app
    from observability import configure_logging

    settings = _settings(data, port=port, host=host, store_url=store_url)
    configure_logging()  # TWINFED_LOG_FORMAT=json for one JSON object per line
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port,
                log_config=None, access_log=False)


@federation_app.command("register-site")
def register_site(code: str, name: Annotated[str | None, typer.Option()] = None,
                  data: DataOption = None) -> None:
    """Register a site and print its credential (shown once, stored hashed)."""
    registry = Registry(_settings(data).registry_path)
    try:
        out.print(registry.register_site(code, name), highlight=False)
        cli_record(_settings(data), "site.register", code, {"name": name})
    finally:
        registry.close()


@federation_app.command("resync")
def resync(code: str, data: DataOption = None) -> None:
    """Make a site's next sync re-send every batch (after a restore or an alignment upgrade)."""
    registry = Registry(_settings(data).registry_path)
    try:
        previous = registry.request_resync(code)
        cli_record(_settings(data), "site.resync", code,
                   {"previous_acknowledged_rev": previous})
    finally:
        registry.close()
    out.print(f"{code}: acknowledged revision {previous} -> 0; the site's next "
              "`twinfed site sync` re-sends every batch", highlight=False)


@federation_app.command("add-user")
def add_user(
    name: str,
    roles: Annotated[str, typer.Option(help="comma-separated: site_admin, engineer, quality, "
                                       "tech_transfer, auditor, admin")],
    sponsors: Annotated[str | None, typer.Option(help="comma-separated sponsor codes the user "
                                                 "may see")] = None,
    data: DataOption = None,
) -> None:
    """Create a user with roles and a sponsor scope; print the user's token (shown once)."""
    registry = Registry(_settings(data).registry_path)
    try:
        token = registry.add_user(name, {r.strip() for r in roles.split(",") if r.strip()},
                                  None if sponsors is None else
                                  {s.strip() for s in sponsors.split(",") if s.strip()})
        out.print(token, highlight=False)
        cli_record(_settings(data), "user.create", name, {"roles": roles, "sponsors": sponsors})
    finally:
        registry.close()


@federation_app.command("align-check")
def align_check_command(
    site: str,
    data: DataOption = None,
    alignments: Annotated[Path | None, typer.Option(help="alignment files folder (default: "
                                                    "ontology/alignments)")] = None,
    batches: Annotated[int, typer.Option(help="recent batch graphs used for distribution "
                                         "similarity")] = 20,
) -> None:
    """List what the site publishes that its alignment file does not map, with suggestions."""
    from rdflib import Graph

    from federation.align import align_check, load_alignment, render
    from federation.store import open_store
    from federation.sync.service import meta_graph_iri

    settings = _settings(data)
    store = open_store(settings.store_location)
    try:
        meta_iri = meta_graph_iri(site)
        metadata = store.graph_metadata()
        if meta_iri not in metadata:
            out.print(f"the federation holds nothing from site '{site}' yet: sync it first")
            raise typer.Exit(1)
        meta = Graph().parse(data=store.get_graph(meta_iri), format="nt")
        for iri, info in metadata.items():
            if info.site == site and info.kind == "sponsor-meta":
                meta.parse(data=store.get_graph(iri), format="nt")
        recent = sorted((info.received_at, iri) for iri, info in metadata.items()
                        if info.site == site and info.kind == "batch")[-batches:]
        graphs = [Graph().parse(data=store.get_graph(iri), format="nt") for _, iri in recent]
    finally:
        store.close()
    report = align_check(site, meta, load_alignment(site, alignments), graphs)
    out.print(render(report), highlight=False)


from twinfed.ask_cli import register as _register_ask  # noqa: E402

_register_ask(federation_app)  # ask NAME, compare --process P
