"""Self-contained HTML pages: templates, styles and scripts shipped in `aiayn/web/static/`, inlined.

A page loads nothing from anywhere: its CSS and JS are inlined, its data is JSON inside a
`<script type="application/json">` tag, and a Content-Security-Policy lets only that one inline
script run (by its hash) and, unless told otherwise, lets the page connect nowhere.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from importlib import resources
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def static_text(name: str) -> str:
    """The text of the package data file `aiayn/web/static/<name>`."""
    path = resources.files("aiayn.web").joinpath("static", name)
    if not path.is_file():
        raise FileNotFoundError(f"no static file {name!r} in the aiayn.web package")
    return path.read_text(encoding="utf-8")


def json_for_script(data: Any) -> str:
    """`data` as JSON that is safe inside a <script> element.

    Every `<` is written `\\u003c`, so no string can close the element (`</script>`) or open a
    comment (`<!--`); JSON.parse reads the escape back as `<`. NaN and infinities are refused:
    JSON has no spelling for them, and JSON.parse would fail on Python's.
    """
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("<", "\\u003c")


def _inline(names: list[str], forbidden: tuple[str, ...]) -> str:
    parts = []
    for name in names:
        text = static_text(name)
        for bad in forbidden:
            if bad in text.lower():
                raise ValueError(f"static file {name!r} contains {bad!r} and cannot be inlined")
        parts.append(f"/* {name} */\n{text}")
    return "\n".join(parts)


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def render_page(
    template: str,
    *,
    title: str,
    styles: list[str],
    scripts: list[str],
    data: Any,
    connect_src: str = "'none'",
) -> str:
    """Fill the static HTML `template` with inlined `styles` and `scripts` and JSON `data`.

    The template's placeholders are `{{title}}` (HTML-escaped), `{{csp}}`, `{{style}}`,
    `{{script}}` and `{{data}}`; all are filled in one pass, so text put in is never read
    for placeholders again. `connect_src` is the CSP source list for fetch ("'self'" for a page
    served with an API).
    """
    style = _inline(styles, ("</style",))
    # "<!--" and "<script" would put the HTML parser in a state where "</script>" ends nothing
    script = _inline(scripts, ("</script", "<script", "<!--"))
    csp = (
        "default-src 'none'; "
        f"script-src 'sha256-{_sha256(script)}'; "
        "style-src 'unsafe-inline'; "
        "img-src data:; "
        f"connect-src {connect_src}; "
        "base-uri 'none'; form-action 'none'"
    )
    values = {
        "title": html.escape(title),
        "csp": html.escape(csp),
        "style": style,
        "script": script,
        "data": json_for_script(data),
    }

    def fill(match: re.Match[str]) -> str:
        key = match.group(1)
        if key not in values:
            raise ValueError(f"template {template!r} has an unknown placeholder {{{{{key}}}}}")
        return values[key]

    return _PLACEHOLDER.sub(fill, static_text(template))
