"""Pages for a trained run: a self-contained HTML report and a small local server to try a model.

`render_report(ReportData(...))` returns a report that opens from a file with no network;
`create_app(backend)` / `serve(backend)` put a model behind a local page, the model being reached
through the `ServeBackend` protocol (FastAPI and uvicorn come with `pip install "aiayn[serve]"`).
"""

from aiayn.web.attention import AttentionView
from aiayn.web.backend import KINDS, Answer, ServeBackend
from aiayn.web.report import ReportData, render_report
from aiayn.web.server import create_app, serve

__all__ = [
    "KINDS",
    "Answer",
    "AttentionView",
    "ReportData",
    "ServeBackend",
    "create_app",
    "render_report",
    "serve",
]
