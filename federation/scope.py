"""Which graphs a caller may see: the basis of every federation query.

A graph with a sponsor is visible to callers whose sponsor scope includes it (admins and
auditors see every sponsor); sponsor-neutral graphs (a site's meta graph: site, equipment,
tag vocabulary) are visible to every authenticated user. Site credentials see nothing
through queries.
"""

from __future__ import annotations

from federation.registry.service import Principal
from federation.store.base import GraphCatalog


def visible_graphs(catalog: GraphCatalog, principal: Principal) -> list[str]:
    if principal.is_site:
        return []
    visible = []
    for iri, meta in catalog.graph_metadata().items():
        if meta.sponsor is None or principal.sponsors is None or \
                meta.sponsor in principal.sponsors:
            visible.append(iri)
    return sorted(visible)
