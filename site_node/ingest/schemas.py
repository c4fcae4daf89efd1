"""Pydantic models of the ingest bundle's JSON files (``docs/ingest-format.md``).

The constraints are declared here once; :mod:`site_node.ingest.problems` turns pydantic's
errors into sentences that name the file, the JSON path and what was expected.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

Code = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
BatchId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.\-]{1,64}$")]
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _Open(BaseModel):
    """Objects that may carry extra, site-specific fields (kept, not interpreted)."""

    model_config = ConfigDict(extra="allow", frozen=True, allow_inf_nan=False)


class SiteRef(_Open):
    code: Code
    name: str | None = None


class SponsorRef(_Open):
    code: Code
    name: str | None = None


class ProductRef(_Open):
    code: Code
    name: str | None = None


class ProcessRef(_Open):
    code: Code
    version: Code
    name: str | None = None

    @property
    def key(self) -> str:
        return f"{self.code}@{self.version}"


class EquipmentEntry(_Open):
    equipment_id: Code
    kind: Code
    working_volume_l: Annotated[float, Field(gt=0)] | None = None
    attributes: dict[str, Scalar | None] = Field(default_factory=dict)


TagKind = Literal["online", "offline", "setpoint", "controller_output"]


class TagEntry(_Strict):
    name: Code
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    kind: TagKind
    description: str | None = None


class UnitOperationEntry(_Strict):
    kind: Code
    start: AwareDatetime
    end: AwareDatetime | None = None
    equipment: list[Code] = Field(default_factory=list)


BatchStatus = Literal["running", "complete", "aborted", "rejected"]


class BatchEntry(_Strict):
    batch_id: BatchId
    path: str | None = None
    scale_l: Annotated[float, Field(gt=0)]
    start: AwareDatetime
    end: AwareDatetime | None = None
    status: BatchStatus
    raman_instrument: Code | None = None
    unit_operations: list[UnitOperationEntry] = Field(default_factory=list)

    @property
    def folder(self) -> str:
        return self.path if self.path is not None else self.batch_id


class Manifest(_Strict):
    format_version: Literal["1"]
    site: SiteRef
    sponsor: SponsorRef
    product: ProductRef
    process: ProcessRef
    equipment: list[EquipmentEntry] = Field(default_factory=list)
    tags: Annotated[list[TagEntry], Field(min_length=1)]
    batches: Annotated[list[BatchEntry], Field(min_length=1)]


class PhaseEntry(_Strict):
    name: Code
    start: AwareDatetime
    end: AwareDatetime | None = None
    unit_operation: Code | None = None


class CapaEntry(_Strict):
    capa_id: Code
    action: str
    effective: bool | None = None


class DeviationEntry(_Strict):
    deviation_id: Code
    opened_at: AwareDatetime
    category: Code
    description: str
    root_cause: str | None = None
    status: str | None = None
    failure_mode: str | None = None
    capa: list[CapaEntry] = Field(default_factory=list)


class QualityResultEntry(_Strict):
    attribute: Code
    value: float
    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
    spec_low: float | None = None
    spec_high: float | None = None


class EventsFile(_Strict):
    phases: list[PhaseEntry] = Field(default_factory=list)
    deviations: list[DeviationEntry] = Field(default_factory=list)
    quality_results: list[QualityResultEntry] = Field(default_factory=list)


def hours_since(start: datetime, moment: datetime) -> float:
    """Hours from ``start`` to ``moment`` (both timezone-aware)."""
    return (moment - start).total_seconds() / 3600.0
