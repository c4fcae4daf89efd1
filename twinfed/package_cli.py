"""``twinfed federation package build|diff`` and ``twinfed site package import``."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from bioprocess.errors import TwinfedError, ValidationError
from twinfed.console import out

federation_package_app = typer.Typer(help="Technology-transfer knowledge packages: build one, "
                                          "compare two.", no_args_is_help=True)
site_package_app = typer.Typer(help="Knowledge packages at this (receiving) site.",
                               no_args_is_help=True)


def _write(archive: bytes, report_html: str, name: str, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    archive_path = out_dir / name
    report_path = archive_path.with_suffix(".html")
    archive_path.write_bytes(archive)
    report_path.write_text(report_html, encoding="utf-8")
    return archive_path, report_path


def print_built(manifest: object, archive_path: Path, report_path: Path) -> None:
    from protocol.package import PackageManifest

    assert isinstance(manifest, PackageManifest)
    out.print(f"package {manifest.package} (version {manifest.version}) built by "
              f"{manifest.built_by} at {manifest.built_at}", highlight=False)
    table = Table("part", "statements", "bytes", "SHA-256", "empty because")
    for part in manifest.parts:
        table.add_row(part.name, "" if part.statements is None else str(part.statements),
                      f"{part.bytes:,}", part.sha256[:16] + "…", part.empty_reason or "")
    out.print(table)
    out.print(f"archive: {archive_path}\nreport:  {report_path}", highlight=False)


@federation_package_app.command("build")
def build(
    process: Annotated[str, typer.Option("--process", help="process code (or CODE@VERSION)")],
    from_site: Annotated[str, typer.Option("--from", help="the sending site")],
    to_site: Annotated[str, typer.Option("--to", help="the receiving site")],
    out_dir: Annotated[Path, typer.Option("--out", help="folder for the archive and report")]
    = Path("."),
    token: Annotated[str | None, typer.Option(help="your federation token (TWINFED_TOKEN)")]
    = None,
    federation: Annotated[str | None, typer.Option(help="URL of a running federation; default: "
                                                   "open the local data directory")] = None,
    data: Annotated[Path | None, typer.Option("--data", help="federation data directory "
                                              "(TWINFED_FED_DATA)")] = None,
) -> None:
    """Build a knowledge package for moving PROCESS from one site to another: verified
    archive (TriG parts + manifest) and HTML report."""
    token = token or os.environ.get("TWINFED_TOKEN")
    if not token:
        raise ValidationError("a token is required: --token or TWINFED_TOKEN (a user with the "
                              "tech_transfer or admin role and the process's sponsor in scope)")
    if federation:
        import httpx

        from federation.packages.diff import verified_archive as read_archive

        response = httpx.post(f"{federation.rstrip('/')}/packages", timeout=600,
                              headers={"Authorization": f"Bearer {token}"},
                              json={"process": process, "from_site": from_site,
                                    "to_site": to_site})
        if response.status_code != 200:
            detail = response.json().get("detail") if response.headers.get(
                "content-type", "").startswith("application/problem+json") else response.text
            raise TwinfedError(f"the federation refused the package ({response.status_code}): "
                               f"{detail}")
        archive = read_archive(response.content)
        name = response.headers.get("content-disposition", "").split("filename=")[-1].strip('"')
        paths = _write(response.content, archive.text("report"),
                       name or f"package_v{archive.manifest.version}.zip", out_dir)
        print_built(archive.manifest, *paths)
        return
    from federation.audit import audit_log_in
    from federation.config import FederationSettings
    from federation.packages.service import build_package, software_version
    from federation.registry.service import Registry
    from federation.store import open_store

    settings = FederationSettings(**({"data": data} if data else {}))
    registry = Registry(settings.registry_path)
    try:
        principal = registry.authenticate(token)
    finally:
        registry.close()
    with open_store(settings.store_location) as store:
        built = build_package(store, principal, process=process, from_site=from_site,
                              to_site=to_site, software_version=software_version(),
                              audit=audit_log_in(settings.data))
    paths = _write(built.archive, built.report_html, built.file_name, out_dir)
    print_built(built.manifest, *paths)


@federation_package_app.command("diff")
def diff(old: Annotated[Path, typer.Argument(help="the older package archive")],
         new: Annotated[Path, typer.Argument(help="the newer package archive")]) -> None:
    """Show what changed between two versions of a package (both are verified first)."""
    from federation.packages.diff import diff_files

    out.print(diff_files(old, new).render(), highlight=False, soft_wrap=True)


@site_package_app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="the package archive (.zip)")],
    neo4j_uri: Annotated[str | None, typer.Option("--neo4j-uri", help="bolt URI of the "
                                                  "site's Neo4j")] = None,
    site: Annotated[str | None, typer.Option("--site", help="this site's code; a package for "
                                             "another site is refused (TWINFED_SITE_CODE)")]
    = None,
) -> None:
    """Verify every hash, validate, and load a knowledge package into this site's graph as
    knowledge (idempotent)."""
    from site_node.packages.importer import import_package
    from twinfed.site_cli import connected, settings_from

    settings = settings_from(neo4j_uri, site)
    with connected(settings) as driver:
        report = import_package(driver, path, site_code=settings.code,
                                database=settings.neo4j_database)
    out.print(f"{report.outcome}: {report.package} (version {report.version}) in "
              f"{report.seconds:.2f} s; " + ", ".join(f"{n} {label}" for label, n in
                                                      report.counts.items() if n),
              highlight=False)


def demo_package(url: str, admin_token: str, workdir: Path,
                 drivers: dict[str, object] | None = None) -> Path | None:
    """The demo's package step: a tech-transfer user builds the package of the process with
    the most batches from its busiest site to the site with the fewest batches of it, over
    HTTP; the archive and report are written under ``workdir/packages`` and, when the
    receiving site's driver is given, the package is imported there. Returns the report."""
    import httpx

    from federation.packages.diff import verified_archive as read_archive

    admin = httpx.Client(base_url=url, timeout=600,
                         headers={"Authorization": f"Bearer {admin_token}"})
    try:
        rows = admin.post("/sparql", headers={"Accept": "application/sparql-results+json"},
                          data={"query": """
            PREFIX tf: <https://w3id.org/twinfed/ontology#>
            SELECT ?process ?site ?sponsor (COUNT(DISTINCT ?b) AS ?n) WHERE {
              ?b a tf:Batch ; tf:ofProcess ?p ; tf:atSite ?s ; tf:sponsor ?sp .
              ?p tf:processCode ?process . ?s tf:siteCode ?site . ?sp tf:sponsorCode ?sponsor
            } GROUP BY ?process ?site ?sponsor"""}).json()["results"]["bindings"]
        counts = [(int(r["n"]["value"]), r["process"]["value"], r["site"]["value"],
                   r["sponsor"]["value"]) for r in rows]
        if not counts:
            out.print("package: the federation holds no batch yet")
            return None
        _, process, from_site, sponsor = max(counts)
        others = sorted((n, site) for n, p, site, _ in counts
                        if p == process and site != from_site)
        if not others:
            out.print(f"package: only {from_site} runs {process}; nothing to transfer")
            return None
        to_site = others[0][1]
        token = admin.post("/users", json={"name": "tt-demo", "roles": ["tech_transfer"],
                                           "sponsors": [sponsor]}).json()["token"]
        started = time.perf_counter()
        response = httpx.post(f"{url}/packages", timeout=600,
                              headers={"Authorization": f"Bearer {token}"},
                              json={"process": process, "from_site": from_site,
                                    "to_site": to_site})
        if response.status_code != 200:
            out.print(f"package refused ({response.status_code}): {response.text[:300]}")
            return None
        archive = read_archive(response.content)
        name = f"{process}_{from_site}_to_{to_site}_v{archive.manifest.version}.zip"
        archive_path, report_path = _write(response.content, archive.text("report"), name,
                                           workdir / "packages")
        out.rule(f"knowledge package: {process} from {from_site} to {to_site}")
        parts = {p.name: p for p in archive.manifest.parts}
        out.print(f"built in {time.perf_counter() - started:.1f} s by tt-demo (sponsor "
                  f"{sponsor}): {parts['parameters'].statements} statements on parameter "
                  f"ranges, {parts['risks'].statements} on risks; empty sections: "
                  + (", ".join(f"{p.name} ({p.empty_reason})" for p in archive.manifest.parts
                               if p.empty_reason) or "none"), highlight=False)
        if drivers and to_site in drivers:
            from site_node.packages.importer import import_package

            report = import_package(drivers[to_site], response.content,  # type: ignore[arg-type]
                                    site_code=to_site)
            out.print(f"imported at {to_site}: {report.outcome}, " + ", ".join(
                f"{n} {label}" for label, n in report.counts.items() if n), highlight=False)
        out.print(f"archive: {archive_path}\nreport:  {report_path}", highlight=False)
        return report_path
    finally:
        admin.close()
