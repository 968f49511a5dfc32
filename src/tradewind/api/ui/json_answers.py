"""JSON answers of the UI pages' scripts: compact, gzip-compressed when the browser accepts
it, and answered with 304 when the browser already holds a body that never changes.

The graph of a 5,000-task DAG is ~150 kB of JSON and ~20 kB compressed; a run's states
are polled every few seconds, so they are compressed too.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

from fastapi import Request, Response

#: Bodies smaller than this are sent as they are: compressing them saves nothing worth the time.
MIN_COMPRESSED = 1024


def accepts_gzip(request: Request) -> bool:
    return any(
        part.split(";")[0].strip() == "gzip"
        for part in request.headers.get("accept-encoding", "").split(",")
    )


def json_answer(request: Request, data: Any) -> Response:
    """``data`` as compact JSON that the browser does not cache (it changes while runs run)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    gzipped = gzip.compress(body, compresslevel=5, mtime=0) if len(body) >= MIN_COMPRESSED else None
    return bytes_answer(request, body, gzipped, cache_control="no-store")


def bytes_answer(
    request: Request,
    body: bytes,
    gzipped: bytes | None,
    *,
    cache_control: str,
    etag: str | None = None,
) -> Response:
    """A JSON body (and the same body gzip-compressed, if there is one), with its validator."""
    headers = {"Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if etag is not None:
        headers["ETag"] = etag
        if etag in (tag.strip() for tag in request.headers.get("if-none-match", "").split(",")):
            return Response(status_code=304, headers=headers)
    if gzipped is not None and len(body) >= MIN_COMPRESSED and accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(gzipped, media_type="application/json", headers=headers)
    return Response(body, media_type="application/json", headers=headers)
