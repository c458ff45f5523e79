"""A local page to try a trained model: FastAPI endpoints around a `ServeBackend`, run by uvicorn.

GET /               the page (self-contained: its script and styles are inlined)
POST /api/translate {"text", "beam", "alpha"}            -> Answer as JSON (a summary too)
POST /api/classify  {"text"}                            -> Answer as JSON
POST /api/generate  {"prompt", "max_new_tokens", "temperature", "top_k"}
                    -> newline-delimited JSON, streamed: {"piece": str} per piece as it is made,
                       then {"done": true, "attention": view or null} or {"error": str}

Errors are JSON {"error": message} with a 4xx status (400 bad value, 404 an endpoint this kind
of model has not, 413 input over the length cap) or 500 when the model itself failed. Model
calls hold one lock: requests may arrive together, the model runs one at a time.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations (`Request`,
# imported inside create_app) as objects to tell a request parameter from a query parameter.

import asyncio
import contextlib
import importlib
import json
import logging
import math
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiayn.errors import AiaynError
from aiayn.web.attention import AttentionView
from aiayn.web.backend import KINDS, Answer, ServeBackend
from aiayn.web.page import render_page

logger = logging.getLogger(__name__)

STYLES = ["base.css", "serve.css"]
SCRIPTS = ["common.js", "heatmap.js", "serve.js"]
MAX_BEAM = 16
MAX_TEMPERATURE = 5.0
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
INSTALL = 'pip install "aiayn[serve]"'


class RequestError(Exception):
    """A request the server refuses: answered as {"error": message} with `status`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _text(body: dict[str, Any], name: str, max_chars: int) -> str:
    value = body.get(name)
    if not isinstance(value, str):
        raise RequestError(400, f"{name!r} must be a string, got {value!r:.60}")
    if not value.strip():
        raise RequestError(400, f"the {name} is empty: type something first")
    if len(value) > max_chars:
        raise RequestError(
            413,
            f"the {name} has {len(value)} characters; this server takes at most {max_chars}",
        )
    return value


def _int(body: dict[str, Any], name: str, default: int | None, lo: int, hi: int) -> int | None:
    value = body.get(name, default)
    if value is None and default is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RequestError(400, f"{name!r} must be an integer from {lo} to {hi}, got {value!r:.60}")
    return value


def _float(body: dict[str, Any], name: str, default: float, lo: float, hi: float) -> float:
    value = body.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise RequestError(400, f"{name!r} must be a number from {lo} to {hi}, got {value!r:.60}")
    if not math.isfinite(value):
        raise RequestError(400, f"{name!r} must be finite, got {value!r}")
    return float(value)


def _import(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise AiaynError(
            f"serving a model needs {module}, which is not installed: {INSTALL}"
        ) from e


def _check_caps(max_input_chars: int, max_new_tokens: int) -> None:
    for name, value in (("max_input_chars", max_input_chars), ("max_new_tokens", max_new_tokens)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def create_app(
    backend: ServeBackend,
    *,
    title: str = "aiayn",
    max_input_chars: int = 2000,
    max_new_tokens: int = 256,
) -> Any:
    """The FastAPI app of the live page for `backend` (a `fastapi.FastAPI`).

    max_input_chars caps the text of every request (longer: HTTP 413 and a message in the page);
    max_new_tokens caps what one generation request may ask for. Raises AiaynError when FastAPI
    is not installed, ValueError for a backend whose `kind` is not one of KINDS.
    """
    _import("fastapi")
    from fastapi import FastAPI, Request
    from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
    from starlette.concurrency import run_in_threadpool

    if not isinstance(backend, ServeBackend):
        raise ValueError(
            "backend must implement ServeBackend (kind, translate, generate, classify, "
            f"generation_attention), got {type(backend).__name__}"
        )
    if backend.kind not in KINDS:
        raise ValueError(f"backend.kind must be one of {KINDS}, got {backend.kind!r}")
    _check_caps(max_input_chars, max_new_tokens)
    kind = backend.kind
    lock = threading.Lock()  # one model call at a time: a torch model is not thread-safe
    page = render_page(
        "serve.html",
        title=title,
        styles=STYLES,
        scripts=SCRIPTS,
        connect_src="'self'",
        data={
            "title": title,
            "kind": kind,
            "max_input_chars": max_input_chars,
            "max_new_tokens": max_new_tokens,
            "max_beam": MAX_BEAM,
            "max_temperature": MAX_TEMPERATURE,
        },
    )
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)

    @app.exception_handler(RequestError)
    async def _refused(request: Request, error: RequestError) -> JSONResponse:
        return JSONResponse({"error": error.message}, status_code=error.status)

    async def body_of(request: Request, endpoint: str) -> dict[str, Any]:
        if endpoint != kind and not (endpoint == "translation" and kind == "summarization"):
            raise RequestError(
                404, f"this server runs a {kind} model; {request.url.path} is for {endpoint}"
            )
        try:
            body = await request.json()
        except ValueError:
            raise RequestError(400, "the request body must be a JSON object") from None
        if not isinstance(body, dict):
            raise RequestError(400, "the request body must be a JSON object")
        return body

    def call(model_call: Callable[[], Answer]) -> dict[str, Any]:
        with lock:
            try:
                answer = model_call()
            except (ValueError, AiaynError) as e:
                raise RequestError(400, str(e)) from e
            except Exception as e:
                logger.exception("the model failed on a request")
                raise RequestError(500, f"the model failed: {type(e).__name__}: {e}") from e
        if not isinstance(answer, Answer):
            raise RequestError(500, f"the backend answered a {type(answer).__name__}, not Answer")
        return answer.to_json()

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        return page

    @app.post("/api/translate")
    async def translate(request: Request) -> dict[str, Any]:
        body = await body_of(request, "translation")
        text = _text(body, "text", max_input_chars)
        beam = _int(body, "beam", 4, 1, MAX_BEAM)
        alpha = _float(body, "alpha", 0.6, 0.0, 5.0)
        return await run_in_threadpool(
            call, lambda: backend.translate(text, beam=beam, alpha=alpha)
        )

    @app.post("/api/classify")
    async def classify(request: Request) -> dict[str, Any]:
        body = await body_of(request, "classification")
        text = _text(body, "text", max_input_chars)
        return await run_in_threadpool(call, lambda: backend.classify(text))

    @app.post("/api/generate")
    async def generate(request: Request) -> StreamingResponse:
        body = await body_of(request, "generation")
        prompt = _text(body, "prompt", max_input_chars)
        options = {
            "max_new_tokens": _int(body, "max_new_tokens", max_new_tokens, 1, max_new_tokens),
            "temperature": _float(body, "temperature", 1.0, 0.0, MAX_TEMPERATURE),
            "top_k": _int(body, "top_k", None, 1, 1_000_000),
        }
        return StreamingResponse(
            _stream(backend, lock, prompt, options), media_type="application/x-ndjson"
        )

    return app


async def _stream(
    backend: ServeBackend, lock: threading.Lock, prompt: str, options: dict[str, Any]
) -> AsyncIterator[str]:
    """The lines of a generation response, as the backend yields its pieces.

    The backend runs in a worker thread holding the lock for the whole generation and hands each
    piece over through a queue; when the client goes away the worker stops at the next piece and
    closes the backend's iterator, so the lock is never left held.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    stop = threading.Event()

    def put(item: dict[str, Any]) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: the server is shutting down
            loop.call_soon_threadsafe(queue.put_nowait, item)

    def produce() -> None:
        try:
            with lock:
                if stop.is_set():
                    return
                pieces = backend.generate(prompt, **options)
                try:
                    for piece in pieces:
                        if not isinstance(piece, str):
                            raise TypeError(f"generate yielded a {type(piece).__name__}, not str")
                        if stop.is_set():
                            return
                        put({"piece": piece})
                finally:
                    close = getattr(pieces, "close", None)
                    if close is not None:
                        close()
                view = backend.generation_attention()
            if view is not None and not isinstance(view, AttentionView):
                raise TypeError(f"generation_attention gave a {type(view).__name__}")
            put({"done": True, "attention": None if view is None else view.to_json()})
        except (ValueError, AiaynError) as e:
            put({"error": str(e)})
        except Exception as e:
            logger.exception("the model failed while generating")
            put({"error": f"the model failed: {type(e).__name__}: {e}"})

    loop.run_in_executor(None, produce)
    try:
        while True:
            item = await queue.get()
            yield json.dumps(item, ensure_ascii=False) + "\n"
            if "piece" not in item:
                return
    finally:
        stop.set()


def serve(
    backend: ServeBackend,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    title: str = "aiayn",
    max_input_chars: int = 2000,
    max_new_tokens: int = 256,
) -> None:
    """Serve the live page for `backend` with uvicorn until interrupted (blocks).

    Binds to 127.0.0.1 (this machine only) unless `host` says otherwise.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"port must be an int from 0 to 65535, got {port!r}")
    uvicorn = _import("uvicorn")
    app = create_app(
        backend, title=title, max_input_chars=max_input_chars, max_new_tokens=max_new_tokens
    )
    if host not in LOCAL_HOSTS:
        logger.warning("serving on %s: other machines on the network can reach the model", host)
    uvicorn.run(app, host=host, port=port, log_level="info")
