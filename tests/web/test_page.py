from __future__ import annotations

import base64
import hashlib
import json
import math
import re

import pytest

from aiayn.web.page import json_for_script, render_page, static_text


def test_json_for_script_cannot_close_its_element_and_reads_back() -> None:
    data = {"token": "</script><script>alert(1)</script>", "c": "<!-- x -->", "u": "é"}
    text = json_for_script(data)
    assert "<" not in text
    assert json.loads(text) == data


def test_json_for_script_refuses_nan() -> None:
    with pytest.raises(ValueError):
        json_for_script({"loss": math.nan})


def test_static_text_reads_package_data_and_names_a_missing_file() -> None:
    assert "Aiayn" in static_text("common.js")
    with pytest.raises(FileNotFoundError, match="no static file 'nope.js'"):
        static_text("nope.js")


def _script(page: str) -> str:
    return re.search(r"<script>(.*?)</script>", page, re.S).group(1)


def test_the_csp_lets_exactly_the_inlined_script_run() -> None:
    page = render_page(
        "report.html", title="t", styles=["base.css"], scripts=["common.js"], data={}
    )
    digest = base64.b64encode(hashlib.sha256(_script(page).encode()).digest()).decode()
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page).group(1)
    assert f"script-src &#x27;sha256-{digest}&#x27;" in csp
    assert "connect-src &#x27;none&#x27;" in csp
    assert "default-src &#x27;none&#x27;" in csp


def test_placeholders_are_filled_once_so_data_is_never_read_as_a_template() -> None:
    page = render_page(
        "report.html", title="{{script}}", styles=[], scripts=["common.js"], data={"x": "{{style}}"}
    )
    assert "<title>{{script}}</title>" in page
    assert '"x":"{{style}}"' in page
    assert "{{csp}}" not in page and "{{data}}" not in page


def test_the_title_is_html_escaped() -> None:
    page = render_page("report.html", title="<b>&</b>", styles=[], scripts=[], data={})
    assert "<title>&lt;b&gt;&amp;&lt;/b&gt;</title>" in page
