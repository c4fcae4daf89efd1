"""HTTP transport to a SPARQL 1.1 Protocol + Graph Store Protocol server (a small httpx wrapper).

It knows three endpoint URLs (query, update, graph store), timeouts and retries, and turns
every HTTP or connection failure into the project's errors with the endpoint URL in the
message — never credentials: user info in a configured URL is moved into HTTP basic auth and
stripped from every message. Only connection *establishment* failures are retried (the
request never reached the server, so a retry cannot apply anything twice).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from urllib.parse import urlencode

import httpx

from bioprocess.errors import StoreUnavailableError
from federation.store.errors import StoreRequestRejectedError, StoreTimeoutError, brief

_FORM = "application/x-www-form-urlencoded"
_UPDATE = "application/sparql-update"


def safe_url(url: httpx.URL | str) -> str:
    """``url`` without user info or query string, fit for messages and logs."""
    parsed = httpx.URL(str(url))
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


class SparqlHttpConnector:
    """Sends SPARQL protocol requests to one server (see the module docstring).

    ``timeout_s`` is the default per-request time limit (connect, each read, each write);
    callers pass a tighter one per request where they have a deadline. ``transport`` lets a
    caller plug in an httpx transport (e.g. a proxy or a test transport).
    """

    def __init__(
        self,
        query_url: str,
        update_url: str,
        store_url: str,
        *,
        timeout_s: float = 30.0,
        connect_timeout_s: float = 5.0,
        retries: int = 2,
        retry_backoff_s: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        auth = None
        urls = []
        for url in (query_url, update_url, store_url):
            parsed = httpx.URL(url)
            if parsed.scheme not in ("http", "https"):
                raise StoreUnavailableError(f"a SPARQL endpoint URL must be http(s); got "
                                            f"{safe_url(parsed)}")
            if parsed.username:
                auth = httpx.BasicAuth(parsed.username, parsed.password)
                parsed = parsed.copy_with(username=None, password=None)
            urls.append(parsed)
        self.query_url, self.update_url, self.store_url = urls
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.retries = retries
        self.retry_backoff_s = retry_backoff_s
        self._client = httpx.Client(auth=auth, transport=transport, follow_redirects=False,
                                    headers={"user-agent": "twinfed-store"})

    @classmethod
    def for_base_url(cls, base_url: str, **options: object) -> SparqlHttpConnector:
        """Endpoints of ``oxigraph serve`` at ``base_url``: ``/query``, ``/update``, ``/store``."""
        base = base_url.rstrip("/")
        return cls(f"{base}/query", f"{base}/update", f"{base}/store",
                   **options)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"SparqlHttpConnector({safe_url(self.query_url)})"

    # --- requests ------------------------------------------------------------------------

    @contextmanager
    def post_query(
        self, params: Sequence[tuple[str, str]], *, accept: str, timeout_s: float | None = None
    ) -> Iterator[httpx.Response]:
        """POST a URL-encoded query request; yields the streaming 2xx response.

        URL-encoded POST (not ``application/sparql-query``) because the dataset parameters
        (one ``default-graph-uri``/``named-graph-uri`` per visible graph) can be thousands
        long: too long for a URL, fine in a body.
        """
        request = self._client.build_request(
            "POST", self.query_url, content=urlencode(list(params)).encode(),
            headers={"content-type": _FORM, "accept": accept}, timeout=self._timeout(timeout_s))
        response = self._send(request, "the query")
        try:
            self._check(response, "the query")
            yield response
        finally:
            response.close()

    def iter_body(self, response: httpx.Response, chunk_size: int = 65536) -> Iterator[bytes]:
        """The response body in chunks, with read failures mapped to the store's errors."""
        try:
            yield from response.iter_bytes(chunk_size)
        except httpx.TimeoutException:
            raise StoreTimeoutError(f"{safe_url(response.request.url)} stopped sending results "
                                    "within the time limit") from None
        except httpx.HTTPError as error:
            raise StoreUnavailableError(f"lost the connection to {safe_url(response.request.url)}"
                                        f" while reading results ({type(error).__name__})"
                                        ) from None

    def post_update(self, update: str, *, timeout_s: float | None = None) -> None:
        """POST one SPARQL Update request (``application/sparql-update``)."""
        request = self._client.build_request(
            "POST", self.update_url, content=update.encode(),
            headers={"content-type": _UPDATE}, timeout=self._timeout(timeout_s))
        response = self._send(request, "the update")
        try:
            response.read()
            self._check(response, "the update")
        except httpx.HTTPError as error:
            raise StoreUnavailableError(f"lost the connection to {safe_url(self.update_url)} "
                                        f"during the update ({type(error).__name__})") from None
        finally:
            response.close()

    def get_graph(self, iri: str, *, accept: str = "application/n-triples",
                  timeout_s: float | None = None) -> bytes | None:
        """GET graph ``iri`` from the Graph Store Protocol endpoint; None if it does not exist."""
        request = self._client.build_request(
            "GET", self.store_url, params={"graph": iri}, headers={"accept": accept},
            timeout=self._timeout(timeout_s))
        response = self._send(request, "the graph read")
        try:
            response.read()
            if response.status_code == 404:
                return None
            self._check(response, "the graph read")
            return response.content
        except httpx.HTTPError as error:
            raise StoreUnavailableError(f"lost the connection to {safe_url(self.store_url)} "
                                        f"while reading a graph ({type(error).__name__})"
                                        ) from None
        finally:
            response.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    # --- plumbing ------------------------------------------------------------------------

    def _timeout(self, timeout_s: float | None) -> httpx.Timeout:
        total = self.timeout_s if timeout_s is None else max(timeout_s, 0.001)
        return httpx.Timeout(total, connect=min(self.connect_timeout_s, total))

    def _send(self, request: httpx.Request, what: str) -> httpx.Response:
        url = safe_url(request.url)
        for attempt in range(self.retries + 1):
            try:
                return self._client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as error:
                if attempt == self.retries:
                    raise StoreUnavailableError(
                        f"the SPARQL store at {url} must be reachable for {what}; "
                        f"got {type(error).__name__} after {attempt + 1} attempts") from None
                time.sleep(self.retry_backoff_s * 2**attempt)
            except httpx.TimeoutException:
                raise StoreTimeoutError(f"the SPARQL store at {url} did not answer {what} within "
                                        "the time limit") from None
            except httpx.HTTPError as error:
                raise StoreUnavailableError(
                    f"lost the connection to the SPARQL store at {url} during {what} "
                    f"({type(error).__name__})") from None
        raise AssertionError("unreachable")  # pragma: no cover

    @staticmethod
    def _check(response: httpx.Response, what: str) -> None:
        if response.is_success:
            return
        url = safe_url(response.request.url)
        if not response.is_closed:
            response.read()
        detail = brief(response.text, 500)
        status = response.status_code
        if status == 400:
            raise StoreRequestRejectedError(f"{url} rejected {what} (HTTP 400): {detail}")
        if status in (401, 403):
            raise StoreUnavailableError(f"{url} refused {what} (HTTP {status}); check the "
                                        "credentials and permissions configured for the store")
        raise StoreUnavailableError(f"{url} failed {what} (HTTP {status}): {detail}")
