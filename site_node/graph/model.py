"""The site graph model, declared once with neomodel.

These classes are the source of truth for labels, properties, relationships and
constraints (installed by :func:`site_node.graph.schema.install_schema`). Bulk writes go
through Cypher in :mod:`site_node.ingest.writer` for speed; reads may use either.

Ownership: every node hanging off a ``Batch`` through an *owned* relationship
(:data:`OWNED_RELATIONSHIPS`) belongs to that batch and is replaced with it. Shared nodes
(site, sponsor, product, process, equipment, tags) are merged, never deleted by an ingest.
"""

from __future__ import annotations

from neomodel import (
    ArrayProperty,
    BooleanProperty,
    DateTimeNeo4jFormatProperty,
    FloatProperty,
    IntegerProperty,
    JSONProperty,
    RelationshipTo,
    StringProperty,
    StructuredNode,
)
from neomodel.properties import Property

#: Relationship types whose target nodes are owned by (and deleted with) their parent.
OWNED_RELATIONSHIPS: tuple[str, ...] = (
    "HAS_SERIES",
    "HAS_LAB_RESULT",
    "HAS_SPECTRA",
    "HAS_CHUNK",
    "HAS_UNIT_OPERATION",
    "HAS_PHASE",
    "HAS_DEVIATION",
    "HAS_CAPA",
    "HAS_QUALITY_RESULT",
    "HAS_FEATURE",
    "HAS_DEVIATION_EVENT",
    "HAS_EVOLUTION",
    "HAS_ANALYSIS_PHASE",
    "HAS_EQUIPMENT_INDICATOR",
    "HAS_EQUIPMENT_DRIFT",
    # soft-sensor estimates belong to the batch revision they were made on: a re-ingest
    # drops them all and the active models estimate the new revision
    "HAS_ESTIMATE",
)


class BytesProperty(Property[bytes]):
    """A Neo4j ``byte[]`` property (neomodel has none): packed numeric arrays."""

    def inflate(self, value: object, rethrow: bool = False) -> bytes:
        return bytes(value)  # type: ignore[arg-type]

    def deflate(self, value: object, rethrow: bool = False) -> bytes:
        return bytes(value)  # type: ignore[arg-type]


class Site(StructuredNode):
    code = StringProperty(unique_index=True, required=True)
    name = StringProperty()
    #: The site's monotonic revision: bumped by every batch change (drives sync).
    rev = IntegerProperty(default=0)


class Sponsor(StructuredNode):
    code = StringProperty(unique_index=True, required=True)
    name = StringProperty()
    products = RelationshipTo("Product", "OWNS_PRODUCT")


class Product(StructuredNode):
    code = StringProperty(unique_index=True, required=True)
    name = StringProperty()
    processes = RelationshipTo("Process", "HAS_PROCESS")


class Process(StructuredNode):
    #: ``code@version``: Community Edition has no node keys, so the pair is one property.
    key = StringProperty(unique_index=True, required=True)
    code = StringProperty(index=True, required=True)
    version = StringProperty(required=True)
    name = StringProperty()


class Equipment(StructuredNode):
    equipment_id = StringProperty(unique_index=True, required=True)
    kind = StringProperty()
    working_volume_l = FloatProperty()
    attributes = JSONProperty()


class Tag(StructuredNode):
    """A tag of the site's own vocabulary, as named by its historian or LIMS."""

    name = StringProperty(unique_index=True, required=True)
    unit = StringProperty(required=True)
    kind = StringProperty(
        required=True,
        choices={k: k for k in ("online", "offline", "setpoint", "controller_output")},
    )
    description = StringProperty()


class TimeSeries(StructuredNode):
    """One node per (batch, tag): times (h since batch start) and values as arrays."""

    tag = StringProperty(index=True, required=True)
    unit = StringProperty()
    t = ArrayProperty(FloatProperty())
    v = ArrayProperty(FloatProperty())
    n = IntegerProperty()
    of_tag = RelationshipTo(Tag, "OF_TAG")


class LabResult(StructuredNode):
    analyte = StringProperty(index=True, required=True)
    value = FloatProperty(required=True)
    unit = StringProperty()
    sampled_at = DateTimeNeo4jFormatProperty()
    t_h = FloatProperty()
    of_tag = RelationshipTo(Tag, "OF_TAG")


class SpectrumChunk(StructuredNode):
    """Up to ``CHUNK_SPECTRA`` spectra: ``values`` is the row-major ``len(t) x channels``
    block, packed as its set's ``encoding`` says (``float64-le``)."""

    index = IntegerProperty(required=True)
    t = ArrayProperty(FloatProperty())
    values = BytesProperty()


class SpectrumSet(StructuredNode):
    instrument = StringProperty()
    wavenumbers = ArrayProperty(FloatProperty())
    n = IntegerProperty()
    channels = IntegerProperty()
    encoding = StringProperty(default="float64-le")
    chunks = RelationshipTo(SpectrumChunk, "HAS_CHUNK")


class Phase(StructuredNode):
    name = StringProperty(required=True)
    start_h = FloatProperty(required=True)
    end_h = FloatProperty()


class UnitOperation(StructuredNode):
    kind = StringProperty(required=True)
    start = DateTimeNeo4jFormatProperty()
    end = DateTimeNeo4jFormatProperty()
    phases = RelationshipTo(Phase, "HAS_PHASE")
    equipment = RelationshipTo(Equipment, "USES_EQUIPMENT")


class CAPA(StructuredNode):
    capa_id = StringProperty(index=True, required=True)
    action = StringProperty()
    effective = BooleanProperty()


class Deviation(StructuredNode):
    deviation_id = StringProperty(index=True, required=True)
    opened_at = DateTimeNeo4jFormatProperty()
    category = StringProperty()
    description = StringProperty()
    root_cause = StringProperty()
    status = StringProperty()
    failure_mode = StringProperty()
    capas = RelationshipTo(CAPA, "HAS_CAPA")


class QualityResult(StructuredNode):
    attribute = StringProperty(required=True)
    value = FloatProperty(required=True)
    unit = StringProperty()
    spec_low = FloatProperty()
    spec_high = FloatProperty()


class Feature(StructuredNode):
    """A per-phase statistic of one tag in one batch (``stat``: mean, min, max, slope, ...)."""

    tag = StringProperty(index=True, required=True)
    phase = StringProperty(required=True)
    stat = StringProperty(required=True)
    value = FloatProperty(required=True)
    unit = StringProperty()


class DeviationEvent(StructuredNode):
    """An excursion of a tag outside the site's reference envelope within one phase."""

    tag = StringProperty(index=True, required=True)
    phase = StringProperty(required=True)
    direction = StringProperty(required=True, choices={"high": "high", "low": "low"})
    magnitude = FloatProperty(required=True)
    peak_excess = FloatProperty()
    peak_z = FloatProperty()
    start_h = FloatProperty(required=True)
    duration_h = FloatProperty(required=True)
    peak_h = FloatProperty()
    n_samples = IntegerProperty()
    unit = StringProperty()
    #: key of the envelope judged against (``process/version/tag``)
    envelope = StringProperty()


class Envelope(StructuredNode):
    """The reference envelope of a tag for a process at this site (phase-registered grid)."""

    key = StringProperty(unique_index=True, required=True)
    process = StringProperty(index=True)
    version = StringProperty()
    tag = StringProperty()
    unit = StringProperty()
    k = FloatProperty()
    n_batches = IntegerProperty()
    envelope_id = StringProperty()
    phase_names = ArrayProperty(StringProperty())
    grid = ArrayProperty(FloatProperty())
    mean = ArrayProperty(FloatProperty())
    lower = ArrayProperty(FloatProperty())
    upper = ArrayProperty(FloatProperty())


class BatchEvolution(StructuredNode):
    """Hotelling T² and SPE of a batch against the site's batch-evolution (PCA) model."""

    t2 = FloatProperty(required=True)
    spe = FloatProperty(required=True)
    t2_limit = FloatProperty()
    spe_limit = FloatProperty()
    t2_limit_95 = FloatProperty()
    spe_limit_95 = FloatProperty()
    coverage = FloatProperty()
    in_reference = BooleanProperty()
    top_contributions = ArrayProperty(StringProperty())


class EquipmentIndicator(StructuredNode):
    """One health indicator of one equipment asset in one batch (site_node.equipment)."""

    asset = StringProperty(index=True, required=True)
    indicator = StringProperty(required=True)
    component = StringProperty()
    value = FloatProperty(required=True)
    unit = StringProperty()
    of_equipment = RelationshipTo(Equipment, "OF_EQUIPMENT")


class EquipmentDriftEvent(StructuredNode):
    """An indicator of an asset drifting across its batches, with evidence and the action.

    Owned by the asset's latest batch in the evidence; ``EVIDENCE`` links every batch."""

    event_id = StringProperty(index=True, required=True)
    asset = StringProperty(index=True, required=True)
    asset_kind = StringProperty()
    #: the process whose batches on the asset were judged (drift is per asset and process)
    process = StringProperty()
    indicator = StringProperty(required=True)
    component = StringProperty()
    unit = StringProperty()
    rule = StringProperty()
    detected_batch = StringProperty()
    change_batch = StringProperty()
    batches = ArrayProperty(StringProperty())
    values = ArrayProperty(FloatProperty())
    slope_per_batch = FloatProperty()
    intercept = FloatProperty()
    mk_s = IntegerProperty()
    mk_p = FloatProperty()
    cusum_max = FloatProperty()
    sigma = FloatProperty()
    baseline = FloatProperty()
    limit = FloatProperty()
    latest_fitted = FloatProperty()
    batches_to_limit = FloatProperty()
    recommendation = StringProperty()
    of_equipment = RelationshipTo(Equipment, "OF_EQUIPMENT")


class Tombstone(StructuredNode):
    """A deleted batch: its id and the site revision of the deletion (sync propagates it)."""

    batch_id = StringProperty(unique_index=True, required=True)
    rev = IntegerProperty(index=True, required=True)
    reason = StringProperty()
    deleted_at = DateTimeNeo4jFormatProperty()


class SoftSensorModel(StructuredNode):
    """A model card (soft sensor): never overwritten; a retrain is a new ``version``.

    ``card`` is the whole model card (JSON); ``artifact`` the pickled fitted model, whose
    SHA-256 is ``artifact_sha256``. ``TRAINED_ON`` / ``VALIDATED_ON`` link the batches.
    """

    model_id = StringProperty(unique_index=True, required=True)
    target = StringProperty(index=True, required=True)
    process = StringProperty(index=True)
    process_version = StringProperty()
    sponsor = StringProperty()
    algorithm = StringProperty()
    version = IntegerProperty(required=True)
    created_at = DateTimeNeo4jFormatProperty()
    metrics = JSONProperty()
    domain = JSONProperty()
    card = JSONProperty()
    artifact = BytesProperty()
    artifact_sha256 = StringProperty()
    kind = StringProperty(default="soft_sensor")


class Estimate(StructuredNode):
    """A soft-sensor estimate for one spectrum of a batch, with interval and domain flags;
    ``reference`` is the lab value paired with it, when there is one."""

    model_id = StringProperty(index=True, required=True)
    t_h = FloatProperty(required=True)
    value = FloatProperty()
    low = FloatProperty()
    high = FloatProperty()
    t2 = FloatProperty()
    q = FloatProperty()
    in_domain = BooleanProperty()
    reason = StringProperty()
    reference = FloatProperty()


class ModelDriftEvent(StructuredNode):
    """Drift of a model in use: too many out-of-domain estimates, or bias against lab values."""

    event_id = StringProperty(unique_index=True, required=True)
    model_id = StringProperty(index=True, required=True)
    kind = StringProperty(required=True)
    raised_at = DateTimeNeo4jFormatProperty()
    value = FloatProperty()
    limit = FloatProperty()
    n = IntegerProperty()
    description = StringProperty()


class Batch(StructuredNode):
    batch_id = StringProperty(unique_index=True, required=True)
    site = StringProperty(index=True, required=True)
    process = StringProperty(index=True)
    sponsor = StringProperty(index=True)
    product = StringProperty()
    scale_l = FloatProperty()
    start = DateTimeNeo4jFormatProperty(index=True)
    end = DateTimeNeo4jFormatProperty()
    status = StringProperty(index=True)
    #: Site revision at the batch's last change.
    rev = IntegerProperty(index=True)
    #: SHA-256 of the batch's normalised bundle content (re-ingest of equal content is a no-op).
    content_hash = StringProperty()
    source = StringProperty()
    ingested_at = DateTimeNeo4jFormatProperty()
    process_version = StringProperty()
    #: SHA-256 of the batch's analysis results (a change bumps ``rev``).
    analysis_hash = StringProperty()
    phase_source = StringProperty()

    at_site = RelationshipTo(Site, "AT_SITE")
    of_process = RelationshipTo(Process, "OF_PROCESS")
    series = RelationshipTo(TimeSeries, "HAS_SERIES")
    lab_results = RelationshipTo(LabResult, "HAS_LAB_RESULT")
    spectra = RelationshipTo(SpectrumSet, "HAS_SPECTRA")
    unit_operations = RelationshipTo(UnitOperation, "HAS_UNIT_OPERATION")
    deviations = RelationshipTo(Deviation, "HAS_DEVIATION")
    quality_results = RelationshipTo(QualityResult, "HAS_QUALITY_RESULT")


#: Every node class of the site graph (schema installation walks this list).
NODE_CLASSES: tuple[type[StructuredNode], ...] = (
    Site, Sponsor, Product, Process, Equipment, Tag, TimeSeries, LabResult, SpectrumChunk,
    SpectrumSet, Phase, UnitOperation, CAPA, Deviation, QualityResult, Feature,
    DeviationEvent, Envelope, BatchEvolution, Tombstone, Batch,
    EquipmentIndicator, EquipmentDriftEvent,
)
