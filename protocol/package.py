"""The knowledge-package archive, version 1: what the federation writes and a site imports.

A package is one zip archive holding ``manifest.json`` and its parts: one TriG file per
section (``parts/<name>.trig``; together they are the package's RDF dataset) and the HTML
report (``report.html``). The manifest records the SHA-256 of every part, who built the
package, when, and from which federation state. Both services read and check it here,
because neither may import the other.

Verification (:func:`read_archive`, raising :class:`PackageArchiveError`) refuses an archive
when a part listed in the manifest is missing, when a file is in the archive but not in the
manifest, or when any part's bytes do not hash to the manifest's SHA-256 — naming the part,
what was found and what was expected.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field
from pydantic import ValidationError as PydanticValidationError

FORMAT: Final = "twinfed-knowledge-package"
FORMAT_VERSION: Final = 1
MANIFEST_NAME: Final = "manifest.json"


class PackageArchiveError(ValueError):
    """The archive is not a package, or a part does not match the manifest (the message
    names the part); services turn it into their own validation error."""


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class PartEntry(BaseModel):
    """One file of the package, with its hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="the section, e.g. 'parameters'")
    path: str = Field(min_length=1, description="path inside the archive")
    media_type: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bytes: int = Field(ge=0)
    graph: str | None = Field(default=None, description="named graph IRI of a TriG part")
    statements: int | None = Field(default=None, ge=0)
    empty_reason: str | None = Field(default=None, description="why a section is empty")


class PackageManifest(BaseModel):
    """``manifest.json``: what the package is, who built it from what, and every part's hash."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = FORMAT
    format_version: int = FORMAT_VERSION
    package: str = Field(description="the package IRI")
    transfer: str = Field(description="'<process>: <from> to <to>', the same for every version")
    version: int = Field(ge=1)
    process: str
    process_version: str
    sponsor: str
    from_site: str
    to_site: str
    built_by: str
    built_at: str
    software_version: str
    federation_state: dict[str, Any]
    shapes: str
    parts: tuple[PartEntry, ...]

    def part(self, name: str) -> PartEntry:
        for entry in self.parts:
            if entry.name == name:
                return entry
        raise KeyError(name)


@dataclass(frozen=True)
class PackageArchive:
    """A verified package: its manifest and the bytes of every part, by part name."""

    manifest: PackageManifest
    files: dict[str, bytes]
    manifest_sha256: str

    def text(self, name: str) -> str:
        return self.files[name].decode("utf-8")

    def rdf_parts(self) -> dict[str, str]:
        """The TriG parts, by name (together: the package dataset)."""
        return {p.name: self.text(p.name) for p in self.manifest.parts
                if p.media_type == "application/trig"}


def write_archive(manifest: PackageManifest, files: dict[str, bytes]) -> bytes:
    """The zip archive of ``manifest`` and its parts (``files`` keyed by part name)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(MANIFEST_NAME, manifest.model_dump_json(indent=2))
        for entry in manifest.parts:
            archive.writestr(entry.path, files[entry.name])
    return buffer.getvalue()


def _open(source: bytes | Path) -> zipfile.ZipFile:
    try:
        if isinstance(source, Path):
            if not source.is_file():
                raise PackageArchiveError(f"package file {source} does not exist")
            return zipfile.ZipFile(source)
        return zipfile.ZipFile(io.BytesIO(source))
    except zipfile.BadZipFile as exc:
        where = source if isinstance(source, Path) else "the upload"
        raise PackageArchiveError(f"{where} must be a knowledge-package zip archive; it is not a "
                              f"readable zip file ({exc})") from None


def read_archive(source: bytes | Path) -> PackageArchive:
    """Read and verify a package archive; :class:`PackageArchiveError` naming the part."""
    with _open(source) as archive:
        names = set(archive.namelist())
        if MANIFEST_NAME not in names:
            raise PackageArchiveError(f"the package must hold {MANIFEST_NAME}; found only "
                                  f"{sorted(names)[:10]}")
        raw_manifest = archive.read(MANIFEST_NAME)
        try:
            manifest = PackageManifest.model_validate_json(raw_manifest)
        except PydanticValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "(document)"
            raise PackageArchiveError(f"{MANIFEST_NAME}: field '{field}': {first['msg']}") from None
        if manifest.format != FORMAT or manifest.format_version != FORMAT_VERSION:
            raise PackageArchiveError(f"{MANIFEST_NAME} must declare format {FORMAT} version "
                                  f"{FORMAT_VERSION}; got {manifest.format} version "
                                  f"{manifest.format_version}")
        listed = {entry.path for entry in manifest.parts}
        extra = sorted(names - listed - {MANIFEST_NAME})
        if extra:
            raise PackageArchiveError(f"the archive holds files the manifest does not list (and so "
                                  f"does not vouch for): {extra}")
        files: dict[str, bytes] = {}
        for entry in manifest.parts:
            if entry.path not in names:
                raise PackageArchiveError(f"part '{entry.name}' ({entry.path}) is listed in the "
                                      "manifest but missing from the archive")
            data = archive.read(entry.path)
            found = sha256_hex(data)
            if found != entry.sha256:
                raise PackageArchiveError(
                    f"part '{entry.name}' ({entry.path}) was changed after the package was "
                    f"built: its SHA-256 must be {entry.sha256} as the manifest records; got "
                    f"{found} instead ({len(data)} bytes, manifest says {entry.bytes})")
            files[entry.name] = data
    return PackageArchive(manifest=manifest, files=files,
                          manifest_sha256=sha256_hex(raw_manifest))


def manifest_summary(manifest: PackageManifest) -> dict[str, Any]:
    """A short, JSON-ready description of a package (for API answers and logs)."""
    return json.loads(manifest.model_dump_json(include={
        "package", "transfer", "version", "process", "sponsor", "from_site", "to_site",
        "built_by", "built_at"}))
