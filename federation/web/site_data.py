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


def fetch_tags(raw_data: str, tags: list[str], limit: int
               ) -> tuple[list[TagData], list[str], str | None]:
    """Series and envelope of the first ``limit`` of ``tags`` that the site holds as time
    series at ``raw_data`` (the batch on its site API); also the tags it holds no series
    for (offline lab analytes) and a problem when the site did not answer."""
    if urlsplit(raw_data).scheme not in ("http", "https"):
        return [], [], f"the batch's raw-data link is not an http(s) URL: {raw_data}"
    base = raw_data.rstrip("/")
    with httpx.Client(timeout=TIMEOUT_S) as client:
        batch, problem = _get(client, base)
        if batch is None:
            return [], [], problem
        held = {s["tag"] for s in batch.get("series", [])}
        chosen = [t for t in tags if t in held][:limit]
        without = [t for t in tags if t not in held]

        with ThreadPoolExecutor(16) as pool:  # every series and envelope at once
            series = [pool.submit(_get, client, f"{base}/series/{quote(t, safe='')}"
                                  f"?max_points={MAX_POINTS}") for t in chosen]
            envelopes = [pool.submit(_get, client, f"{base}/envelope/{quote(t, safe='')}")
                         for t in chosen]
            found = []
            for tag, s_job, e_job in zip(chosen, series, envelopes, strict=True):
                (data, problem), (envelope, env_problem) = s_job.result(), e_job.result()
                found.append(TagData(tag, data, envelope if data is not None else None,
                                     problem or (f"no envelope: {env_problem}"
                                                 if env_problem else None)))
        return found, without, None
