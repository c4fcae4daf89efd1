"""Sections other capabilities contribute: failure signatures and soft-sensor/yield models.

Each function returns an :class:`ExternalSection`: the items for the package (label,
definition, facts, evidence IRIs) or, when the capability has nothing for this process, the
reason the section is empty — stated in the package and its report, never silently left out.
"""

from __future__ import annotations

from federation.packages.sections import ExternalSection
from federation.packages.source import TransferData
from federation.store.base import Store


def signature_section(store: Store, data: TransferData) -> ExternalSection:
    """Failure signatures seen for the process at any site, with root causes and CAPA."""
    return ExternalSection(empty_reason=(
        "the federation's failure-signature capability (federation/signatures) was not part "
        "of this build of twinfed; deviation records of the process are in the risks section"))


def model_section(store: Store, data: TransferData) -> ExternalSection:
    """Soft-sensor and yield models of the process, with a transfer check on R's data."""
    return ExternalSection(empty_reason=(
        "no soft-sensor or yield model card was exported to the federation by this build of "
        "twinfed (site_node/models not yet available)"))
