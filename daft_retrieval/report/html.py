"""One self-contained HTML page of an evaluation report: systems x measures with significance marks, the tests,
a per-query difference chart and table, each query's rankings side by side, and the provenance.

The page works from ``file://`` with no network: its CSS and JS are inline (package files under ``assets/``), its
Content-Security-Policy forbids every request, and the data is embedded as gzip-compressed JSON in base64 (so no
text of the data, ``</script>`` included, can break the page); the page's script decodes it with
``DecompressionStream`` and inserts text only as text. The same data always gives the same page.

>>> data = {"title": "Demo", "alpha": 0.05, "datasets": [], "mean": None, "provenance": {}}
>>> page = render_html(data)
>>> page.startswith("<!DOCTYPE html>") and "<title>Demo</title>" in page
True
>>> render_html(data) == page
True
"""

from __future__ import annotations

import base64
import gzip
import html
import json
import re
from importlib import resources
from typing import Any

__all__ = ["render_html"]

_PLACEHOLDER = re.compile(r"@(TITLE|CSS|JS|DATA)@")


def _asset(name: str) -> str:
    return resources.files("daft_retrieval.report").joinpath("assets", name).read_text(encoding="utf-8")


def render_html(data: dict[str, Any]) -> str:
    """The report page of ``data`` (the schema of ``daft_retrieval.report``'s HTML report: ``title``, ``alpha``,
    ``datasets``, ``mean``, ``provenance``). Raises ``ValueError`` for NaN or infinite numbers (use ``None``)."""
    payload = json.dumps(data, sort_keys=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    parts = {
        "TITLE": html.escape(str(data.get("title") or "Evaluation report")),
        "CSS": _asset("report.css"),
        "JS": _asset("report.js"),
        "DATA": base64.b64encode(gzip.compress(payload, compresslevel=6, mtime=0)).decode("ascii"),
    }
    for name in ("CSS", "JS"):
        if re.search(r"</(script|style)", parts[name], re.IGNORECASE):
            raise ValueError(f"the report's {name} asset must not contain a closing </script> or </style>")
    # One pass: text put in is never scanned again for placeholders.
    return _PLACEHOLDER.sub(lambda match: parts[match.group(1)], _asset("report.html"))
