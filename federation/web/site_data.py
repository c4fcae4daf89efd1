"""Raw series, fetched on demand from the site node that holds them.

Raw time series stay at the site (the map's first principle); each exported batch says
where its raw data lives (``tf:rawData``, the batch on the site API). For a batch page the
federation asks that API for each tag's series (downsampled) and the tag's envelope laid
over the batch's phases, in parallel, with a short timeout: a site that does not answer
gives a plain message on the page, never a failed page.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

#: Points per plotted series (the site averages equal-count buckets).
MAX_POINTS = 400
TIMEOUT_S = 10.0


@dataclass(frozen=True)
class TagData:
    tag: str
    series: dict[str, Any] | None
    envelope: dict[str, Any] | None
    problem: str | None


def _get(client: httpx.Client, url: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        response = client.get(url)
    except httpx.HTTPError as exc:
        return None, (f"the site API at {urlsplit(url).netloc} did not answer "
                      f"({exc.__class__.__name__})")
    if response.status_code != 200:
        try:
            detail = response.json().get("detail", response.text[:200])
        except ValueError:
            detail = response.text[:200]
        return None, f"{response.status_code}: {detail}"
    return response.json(), None


def fetch_tags(raw_data: str, tags: list[str]) -> list[TagData]:
    """Series and envelope of every tag of the batch at ``raw_data`` (its site API URL)."""
    if urlsplit(raw_data).scheme not in ("http", "https"):
        return [TagData(t, None, None, f"the batch's raw-data link is not an http(s) URL: "
                        f"{raw_data}") for t in tags]
    base = raw_data.rstrip("/")
    with httpx.Client(timeout=TIMEOUT_S) as client, ThreadPoolExecutor(8) as pool:
        def one(tag: str) -> TagData:
            name = quote(tag, safe="")
            series, problem = _get(client, f"{base}/series/{name}?max_points={MAX_POINTS}")
            envelope, env_problem = (None, None)
            if series is not None:
                envelope, env_problem = _get(client, f"{base}/envelope/{name}")
            return TagData(tag, series, envelope,
                           problem or (f"no envelope: {env_problem}" if env_problem else None))
        return list(pool.map(one, tags))
