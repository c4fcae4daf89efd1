"""Knowledge-package routes: build a package (the zip archive) and compare two of them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, UploadFile
from fastapi.params import File
from fastapi.responses import Response
from pydantic import BaseModel, Field

from federation.api.deps import StoreDep
from federation.api.roles import PackagesBuilder, PackagesReader
from federation.packages.diff import diff_archives, verified_archive
from federation.packages.service import build_package, software_version

router = APIRouter()


class PackageRequest(BaseModel):
    process: str = Field(min_length=1, description="process code, or CODE@VERSION")
    from_site: str = Field(min_length=1, description="the sending site")
    to_site: str = Field(min_length=1, description="the receiving site")


@router.post("/packages", operation_id="package_build", response_class=Response,
             responses={200: {"content": {"application/zip": {}},
                              "description": "the verified package archive"}})
def build(body: PackageRequest, request: Request, store: StoreDep,
          caller: PackagesBuilder) -> Response:
    """Build, validate and store a technology-transfer knowledge package; answer its archive
    (manifest.json, one TriG file per section, report.html)."""
    built = build_package(store, caller, process=body.process, from_site=body.from_site,
                          to_site=body.to_site, software_version=software_version(),
                          audit=getattr(request.app.state, "audit", None))
    return Response(built.archive, media_type="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{built.file_name}"',
        "X-Twinfed-Package": built.manifest.package,
        "X-Twinfed-Package-Version": str(built.manifest.version)})


@router.post("/packages/diff", operation_id="package_diff")
def diff(old: Annotated[UploadFile, File()], new: Annotated[UploadFile, File()],
         caller: PackagesReader) -> dict[str, object]:
    """What changed between two package archives (both verified first)."""
    result = diff_archives(verified_archive(old.file.read()),
                           verified_archive(new.file.read()))
    return {"old": result.old, "new": result.new, "same_transfer": result.same_transfer,
            "unchanged": result.unchanged, "parts": result.parts, "ranges": result.ranges,
            "equipment": result.equipment, "risks": result.risks, "whatif": result.whatif,
            "text": result.render()}
