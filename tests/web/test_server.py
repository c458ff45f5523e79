from __future__ import annotations

import json
import re
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from aiayn.errors import AiaynError
from aiayn.web.attention import AttentionView
from aiayn.web.backend import Answer
from aiayn.web.server import create_app, serve

pytest.importorskip(
    "fastapi", reason="the serve extra is not installed: pip install 'aiayn[serve]'"
)
httpx = pytest.importorskip("httpx", reason="httpx is not installed")
from fastapi.testclient import TestClient  # noqa: E402

WAIT = 10  # seconds a fake backend waits for the test before giving up, so nothing hangs


def mirror_view(queries: list[str], keys: list[str]) -> AttentionView:
    """Two heads: head 0 looks at the mirrored position, head 1 spreads evenly."""
    n, m = len(queries), len(keys)
    mirrored = [[1.0 if k == m - 1 - q % m else 0.0 for k in range(m)] for q in range(n)]
    even = [[1.0 / m] * m for _ in range(n)]
    return AttentionView(
        title="cross", query_tokens=queries, key_tokens=keys, weights=[[mirrored, even]]
    )


class Unused:
    def translate(self, text: str, *, beam: int, alpha: float) -> Answer:
        raise NotImplementedError

    def generate(self, prompt: str, **options: Any) -> Iterator[str]:
        raise NotImplementedError

    def classify(self, text: str) -> Answer:
        raise NotImplementedError

    def generation_attention(self) -> AttentionView | None:
        return None


class Translator(Unused):
    """Reverses and upper-cases the words; the first call can be held until the test releases it."""

    kind = "translation"

    def __init__(self, *, hold_first: bool = False) -> None:
        self.calls: list[tuple[str, int, float]] = []
        self.active = self.most_active = 0
        self.entered = threading.Event()
        self.release = threading.Event()
        self.hold = hold_first

    def translate(self, text: str, *, beam: int, alpha: float) -> Answer:
        self.active += 1
        self.most_active = max(self.most_active, self.active)
        try:
            self.calls.append((text, beam, alpha))
            self.entered.set()
            if self.hold:
                self.hold = False
                if not self.release.wait(WAIT):
                    raise RuntimeError("the test never released the first call")
            if text == "fail":
                raise ValueError("the word 'fail' is not in the vocabulary")
            if text == "crash":
                raise RuntimeError("out of memory")
            words = [w.upper() for w in reversed(text.split())]
            return Answer(text=" ".join(words), attention=mirror_view(words, text.split()))
        finally:
            self.active -= 1


class Generator(Unused):
    """Yields "Once", waits for the test's release, then " upon a time" (or many more pieces)."""

    kind = "generation"

    def __init__(self, *, hold: bool = True, endless: bool = False, fail: bool = False) -> None:
        self.release = threading.Event()
        self.closed = threading.Event()
        self.options: dict[str, Any] = {}
        self.hold, self.endless, self.fail = hold, endless, fail
        self.pieces = 0
        self.written: list[str] = []

    def generate(self, prompt: str, **options: Any) -> Iterator[str]:
        self.options = options
        try:
            yield "Once"
            if self.hold and not self.release.wait(WAIT):
                raise RuntimeError("the test never released the generation")
            if self.fail:
                raise ValueError("the prompt has a character the model has never seen")
            rest = ["."] * 100_000 if self.endless else [" upon", " a", " time"]
            for piece in rest:
                self.pieces += 1
                yield piece
            self.written = ["Once", "upon", "a", "time"]
        finally:
            self.closed.set()

    def generation_attention(self) -> AttentionView | None:
        """Each word looks at itself: drawn when the stream has ended."""
        words, self.written = self.written, []
        if not words:
            return None
        n = len(words)
        eye = [[1.0 if q == k else 0.0 for k in range(n)] for q in range(n)]
        return AttentionView(title="self", query_tokens=words, key_tokens=words, weights=[[eye]])


class Classifier(Unused):
    kind = "classification"

    def classify(self, text: str) -> Answer:
        words = text.split()
        p = 0.9 if "good" in words else 0.2
        return Answer(
            text="positive" if p > 0.5 else "negative",
            labels=["negative", "positive"],
            probabilities=[1 - p, p],
            attention=mirror_view(words, words),
        )


def client(backend: Any, **caps: int) -> TestClient:
    return TestClient(create_app(backend, title="test <model>", **caps))


def lines(response: Any) -> list[dict[str, Any]]:
    return [json.loads(line) for line in response.text.splitlines() if line]


# ---- the API, in process -------------------------------------------------------------------


def test_the_page_is_self_contained_and_may_only_call_its_own_server() -> None:
    response = client(Translator()).get("/")
    assert response.status_code == 200
    page = response.text
    assert "connect-src &#x27;self&#x27;" in page
    assert "<title>test &lt;model&gt;</title>" in page
    assert '"kind":"translation"' in page and '"max_input_chars":2000' in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page) and "<link" not in page


def test_translate_answers_with_text_and_attention_and_passes_beam_and_alpha() -> None:
    backend = Translator()
    answer = (
        client(backend)
        .post("/api/translate", json={"text": "ein Hund", "beam": 2, "alpha": 1.0})
        .json()
    )
    assert answer["text"] == "HUND EIN"
    assert answer["attention"]["key_tokens"] == ["ein", "Hund"]
    assert backend.calls == [("ein Hund", 2, 1.0)]


def test_over_long_input_is_refused_and_the_next_request_is_answered() -> None:
    c = client(Translator(), max_input_chars=10)
    refused = c.post("/api/translate", json={"text": "x" * 11})
    assert refused.status_code == 413
    assert refused.json() == {"error": "the text has 11 characters; this server takes at most 10"}
    assert c.post("/api/translate", json={"text": "x" * 10}).json()["text"] == "X" * 10


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"text": "  "}, 400, "the text is empty"),
        ({"text": 3}, 400, "'text' must be a string"),
        ({"text": "a", "beam": 0}, 400, "'beam' must be an integer from 1 to 16, got 0"),
        ({"text": "a", "beam": 2.5}, 400, "'beam' must be an integer"),
        ({"text": "a", "alpha": "big"}, 400, "'alpha' must be a number from 0.0 to 5.0"),
        ({"text": "fail"}, 400, "the word 'fail' is not in the vocabulary"),
        ({"text": "crash"}, 500, "the model failed: RuntimeError: out of memory"),
        ([1, 2], 400, "the request body must be a JSON object"),
    ],
)
def test_bad_requests_get_a_message_and_the_server_keeps_serving(
    body: Any, status: int, message: str
) -> None:
    c = client(Translator())
    response = c.post("/api/translate", json=body)
    assert response.status_code == status
    assert message in response.json()["error"]
    assert c.post("/api/translate", json={"text": "ok"}).json()["text"] == "OK"


def test_an_endpoint_of_another_kind_is_not_found() -> None:
    response = client(Translator()).post("/api/generate", json={"prompt": "a"})
    assert response.status_code == 404
    assert response.json()["error"] == (
        "this server runs a translation model; /api/generate is for generation"
    )


def test_classify_answers_every_label_with_its_probability() -> None:
    answer = client(Classifier()).post("/api/classify", json={"text": "a good film"}).json()
    assert answer["text"] == "positive"
    assert answer["labels"] == ["negative", "positive"]
    assert answer["probabilities"] == pytest.approx([0.1, 0.9])


def test_generate_streams_lines_of_pieces_then_done() -> None:
    backend = Generator(hold=False)
    response = client(backend, max_new_tokens=50).post(
        "/api/generate", json={"prompt": "Tell", "max_new_tokens": 7, "temperature": 0.5}
    )
    assert response.headers["content-type"].startswith("application/x-ndjson")
    received = lines(response)
    assert received[:-1] == [{"piece": p} for p in ["Once", " upon", " a", " time"]]
    assert received[-1]["done"] is True  # and the attention behind what was written
    assert received[-1]["attention"]["query_tokens"] == ["Once", "upon", "a", "time"]
    assert backend.options == {"max_new_tokens": 7, "temperature": 0.5, "top_k": None}


def test_generation_length_is_capped_and_a_failure_mid_stream_is_reported() -> None:
    c = client(Generator(hold=False, fail=True), max_new_tokens=50)
    too_many = c.post("/api/generate", json={"prompt": "a", "max_new_tokens": 51})
    assert too_many.status_code == 400
    assert "'max_new_tokens' must be an integer from 1 to 50" in too_many.json()["error"]
    assert lines(c.post("/api/generate", json={"prompt": "a"})) == [
        {"piece": "Once"},
        {"error": "the prompt has a character the model has never seen"},
    ]


def test_create_app_refuses_what_is_not_a_backend_or_an_unknown_kind() -> None:
    with pytest.raises(ValueError, match="backend must implement ServeBackend"):
        create_app(object())
    backend = Translator()
    backend.kind = "speech"
    with pytest.raises(ValueError, match="backend.kind must be one of"):
        create_app(backend)
    with pytest.raises(ValueError, match="max_new_tokens must be a positive int, got 0"):
        create_app(Translator(), max_new_tokens=0)


def test_a_missing_serve_extra_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # import fastapi now raises ImportError
    with pytest.raises(AiaynError, match=r'pip install "aiayn\[serve\]"'):
        create_app(Translator())


def test_serve_binds_to_this_machine_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    runs: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: runs.append(kw))
    serve(Translator())
    serve(Translator(), host="0.0.0.0", port=9000)
    assert [(r["host"], r["port"]) for r in runs] == [("127.0.0.1", 8000), ("0.0.0.0", 9000)]
    with pytest.raises(ValueError, match="port must be an int from 0 to 65535"):
        serve(Translator(), port=70000)


# ---- a live server, over HTTP --------------------------------------------------------------


def test_two_requests_at_once_both_answer_and_the_model_runs_one_at_a_time(serve_app: Any) -> None:
    backend = Translator(hold_first=True)
    url = serve_app(create_app(backend))
    answers: dict[str, Any] = {}

    def ask(text: str) -> None:
        answers[text] = httpx.post(f"{url}/api/translate", json={"text": text}, timeout=WAIT)

    first = threading.Thread(target=ask, args=("one two",))
    second = threading.Thread(target=ask, args=("three",))
    first.start()
    assert backend.entered.wait(WAIT)  # the first call is in the model, holding it
    second.start()
    second.join(timeout=0.5)
    assert second.is_alive()  # the second waits for the model instead of running beside it
    backend.release.set()
    first.join(WAIT)
    second.join(WAIT)
    assert answers["one two"].json()["text"] == "TWO ONE"
    assert answers["three"].json()["text"] == "THREE"
    assert backend.most_active == 1


def test_pieces_arrive_before_the_generation_ends(serve_app: Any) -> None:
    backend = Generator()
    url = serve_app(create_app(backend))
    with httpx.stream("POST", f"{url}/api/generate", json={"prompt": "a"}, timeout=WAIT) as r:
        received = r.iter_lines()
        assert json.loads(next(received)) == {"piece": "Once"}  # while the model is held
        backend.release.set()
        last = [json.loads(line) for line in received if line][-1]
        assert last["done"] is True


def test_a_client_that_leaves_mid_stream_frees_the_model(serve_app: Any) -> None:
    backend = Generator(endless=True)
    url = serve_app(create_app(backend))
    with httpx.stream("POST", f"{url}/api/generate", json={"prompt": "a"}, timeout=WAIT) as r:
        assert json.loads(next(r.iter_lines())) == {"piece": "Once"}
    backend.release.set()  # the reader has gone: the generation must stop, not run to its end
    assert backend.closed.wait(WAIT)
    assert backend.pieces < 100_000
    backend.endless = False
    after = httpx.post(f"{url}/api/generate", json={"prompt": "b"}, timeout=WAIT)
    assert lines(after)[-1]["done"] is True


# ---- the page, in a real browser -----------------------------------------------------------


def open_page(browser_page: Any, url: str) -> Any:
    page = browser_page.page
    page.goto(url)
    page.wait_for_selector("body[data-state=idle]")
    return page


def ask(page: Any, text: str) -> None:
    page.fill("#input", text)
    page.click("#submit")
    page.wait_for_selector("body[data-state=idle]")


def test_typing_a_sentence_returns_its_translation_with_attention(
    browser_page: Any, serve_app: Any, save_screenshot: Any
) -> None:
    backend = Translator()
    url = serve_app(create_app(backend, title="de-en"))
    page = open_page(browser_page, url)
    page.fill("#beam", "2")
    page.fill("#alpha", "0.8")
    page.locator("#input").press_sequentially("ein kleiner Hund")  # key by key, as a user types
    assert page.inner_text("#counter") == "16 / 2000 characters"
    page.click("#submit")
    page.wait_for_selector("body[data-state=idle]")
    assert page.inner_text("#output") == "HUND KLEINER EIN"
    assert backend.calls == [("ein kleiner Hund", 2, 0.8)]
    assert page.locator("#attention .heatmap rect.cell").count() == 9
    page.select_option("#attention select[name=head]", "1")  # head 1 spreads evenly
    weights = page.eval_on_selector_all(".heatmap rect.cell", "cs => cs.map(c => +c.dataset.w)")
    assert weights == [0.3333] * 9  # as sent: 4 significant digits
    assert browser_page.console_errors == []
    assert all(r.startswith(url) for r in browser_page.requests)
    save_screenshot(page, "serve-translation.png")


def test_over_long_input_shows_the_message_and_the_next_request_works(
    browser_page: Any, serve_app: Any
) -> None:
    url = serve_app(create_app(Translator(), max_input_chars=20))
    page = open_page(browser_page, url)
    with page.expect_response("**/api/translate") as refused:
        ask(page, "zu lang " * 5)
    assert refused.value.status == 413
    assert page.inner_text("#error") == "the text has 40 characters; this server takes at most 20"
    assert "over" in page.get_attribute("#counter", "class")
    ask(page, "kurz")
    assert page.is_hidden("#error")
    assert page.inner_text("#output") == "KURZ"


def test_a_prompt_streams_its_pieces_as_they_come(browser_page: Any, serve_app: Any) -> None:
    backend = Generator()
    url = serve_app(create_app(backend, max_new_tokens=64))
    page = open_page(browser_page, url)
    assert page.get_attribute("#max-new-tokens", "max") == "64"
    page.fill("#input", "Tell me a story:")
    page.fill("#top-k", "5")
    page.click("#submit")
    page.wait_for_selector("#output .piece")  # the first piece, while the model is held
    assert page.locator("#output .piece").all_inner_texts() == ["Once"]
    assert page.get_attribute("body", "data-state") == "busy"
    backend.release.set()
    page.wait_for_selector("body[data-state=idle]")
    assert page.locator("#output .piece").count() == 4
    assert page.inner_text("#output") == "Tell me a story:Once upon a time"
    assert page.inner_text("#status").startswith("done: 4 pieces")
    assert backend.options == {"max_new_tokens": 64, "temperature": 0.8, "top_k": 5}
    # the attention of what was written is drawn beside it once the stream has ended
    assert page.is_visible("#attention-section")
    assert page.locator("#attention .heatmap rect.cell").count() == 16
    assert browser_page.console_errors == []


def test_a_classification_shows_every_label_and_its_probability(
    browser_page: Any, serve_app: Any
) -> None:
    page = open_page(browser_page, serve_app(create_app(Classifier())))
    ask(page, "a good film")
    assert page.inner_text("#output .label") == "positive"
    assert page.locator("#output .bars .p").all_inner_texts() == ["10.0%", "90.0%"]
    assert page.locator("#attention .heatmap").count() == 1
    assert browser_page.console_errors == []


# ---- the live page of a trained run ------------------------------------------------------


def test_the_page_of_a_trained_translation_run(
    browser_page: Any, serve_app: Any, toy_runs: Any, save_screenshot: Any
) -> None:
    from aiayn.app.serve import RunBackend
    from aiayn.app.use import open_run

    run = open_run(toy_runs / "reverse", device="cpu")
    url = serve_app(create_app(RunBackend(run), title="reverse", max_input_chars=40))
    page = open_page(browser_page, url)
    page.fill("#beam", "1")
    ask(page, "3 1 4 1 5")
    search = RunBackend(run)._search(1, 0.6)
    expected = run.task.translate(run.model, ["3 1 4 1 5"], search)[0]
    assert page.inner_text("#output") == expected
    assert page.locator("#attention .heatmap").count() == 1
    with page.expect_response("**/api/translate") as refused:
        ask(page, "1 " * 30)
    assert refused.value.status == 413
    assert "at most 40" in page.inner_text("#error")
    ask(page, "2 7")
    assert page.is_hidden("#error")
    assert page.inner_text("#output") == run.task.translate(run.model, ["2 7"], search)[0]
    assert len(browser_page.console_errors) == 1  # the browser's own line about the refusal
    assert "status of 413" in browser_page.console_errors[0]
    save_screenshot(page, "run-serve.png")


def test_the_page_of_a_trained_language_model_streams_its_tokens(
    browser_page: Any, serve_app: Any, toy_runs: Any, save_screenshot: Any
) -> None:
    from aiayn.app.serve import RunBackend
    from aiayn.app.use import open_run

    run = open_run(toy_runs / "reverse-lm", device="cpu")
    page = open_page(browser_page, serve_app(create_app(RunBackend(run), max_new_tokens=8)))
    page.fill("#max-new-tokens", "6")
    page.fill("#temperature", "0")
    ask(page, "1 2 3")
    assert page.locator("#output .piece").count() == 6  # a piece a token, streamed
    assert page.inner_text("#status").startswith("done: 6 pieces")
    assert page.inner_text("#output").startswith("1 2 3")
    # beside it, the masked self-attention over the prompt's 3 tokens and the 6 written
    assert page.locator("#attention .heatmap rect.cell").count() == 9 * 9
    cells = page.eval_on_selector_all(
        ".heatmap rect.cell", "cs => cs.map(c => [+c.dataset.q, +c.dataset.k, +c.dataset.w])"
    )
    after = [w for q, k, w in cells if k > q]  # a key after its query
    assert len(after) == 36 and all(w == 0 for w in after)  # the causal mask, as drawn
    assert all(w > 0 for q, k, w in cells if k == 0)  # every token may look at the first
    assert browser_page.console_errors == []
    save_screenshot(page, "run-serve-generation.png")
