"""What a caller may see: the basis of every federation query.

A graph with a sponsor is visible to callers whose sponsor scope includes it (admins and
auditors see every sponsor); sponsor-neutral graphs (a site's meta graph: site, equipment,
tag vocabulary) are visible to every authenticated user. Site credentials see nothing
through queries. Sponsors are passed to the store as whole sponsors (it keeps one union
view per sponsor, far faster than listing thousands of graphs).
"""

from __future__ import annotations

from dataclasses import dataclass

from federation.registry.service import Principal
from federation.store.base import GraphCatalog


@dataclass(frozen=True)
class Scope:
    sponsors: frozenset[str]
    #: Sponsor-neutral graphs (site meta graphs).
    graphs: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.sponsors and not self.graphs


def caller_scope(catalog: GraphCatalog, principal: Principal) -> Scope:
    if principal.is_site:
        return Scope(frozenset(), ())
    metadata = catalog.graph_metadata()
    neutral = tuple(sorted(iri for iri, meta in metadata.items() if meta.sponsor is None))
    known = {meta.sponsor for meta in metadata.values() if meta.sponsor}
    sponsors = known if principal.sponsors is None else known & set(principal.sponsors)
    return Scope(frozenset(sponsors), neutral)
