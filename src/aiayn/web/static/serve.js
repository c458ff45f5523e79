"use strict";
// The live page: sends the input to the server and shows the answer (streamed, for generation).

Aiayn.KIND_UI = {
  translation: {
    verb: "Translate", busy: "translating\u2026", endpoint: "/api/translate",
    placeholder: "Type a sentence to translate",
    options: [
      {id: "beam", label: "Beam size", value: 4, min: 1, max: "max_beam", step: 1, key: "beam"},
      {id: "alpha", label: "Length penalty \u03b1", value: 0.6, min: 0, max: 5, step: 0.1,
        key: "alpha"},
    ],
  },
  summarization: {
    verb: "Summarize", busy: "summarizing\u2026", endpoint: "/api/translate",
    placeholder: "Paste a document to summarize",
    options: [
      {id: "beam", label: "Beam size", value: 4, min: 1, max: "max_beam", step: 1, key: "beam"},
      {id: "alpha", label: "Length penalty \u03b1", value: 0.6, min: 0, max: 5, step: 0.1,
        key: "alpha"},
    ],
  },
  generation: {
    verb: "Generate", busy: "generating\u2026", endpoint: "/api/generate",
    placeholder: "Type the start of a text",
    options: [
      {id: "max-new-tokens", label: "New tokens", value: 100, min: 1, max: "max_new_tokens",
        step: 1, key: "max_new_tokens"},
      {id: "temperature", label: "Temperature", value: 0.8, min: 0, max: "max_temperature",
        step: 0.1, key: "temperature"},
      {id: "top-k", label: "Top-k", value: "", min: 1, max: 1000000, step: 1, key: "top_k",
        optional: true},
    ],
  },
  classification: {
    verb: "Classify", busy: "classifying\u2026", endpoint: "/api/classify",
    placeholder: "Type a sentence to classify", options: [],
  },
};

Aiayn.live = function (data) {
  const ui = Aiayn.KIND_UI[data.kind];
  const $ = (id) => document.getElementById(id);
  const input = $("input"), output = $("output"), status = $("status"), error = $("error");
  const submit = $("submit"), counter = $("counter");
  const explorer = Aiayn.attentionExplorer($("attention"), []);
  $("kind").textContent = data.kind;
  input.placeholder = ui.placeholder;
  submit.textContent = ui.verb;

  const fields = ui.options.map((o) => {
    const max = typeof o.max === "string" ? data[o.max] : o.max;
    const field = Aiayn.el("input", {id: o.id, name: o.key, type: "number", min: o.min, max: max,
      step: o.step, value: String(o.max === "max_new_tokens" ? Math.min(o.value, max) : o.value),
      placeholder: o.optional ? "none" : ""});
    $("options").append(Aiayn.el("label", {for: o.id}, o.label, " ", field));
    return [o, field];
  });

  const count = () => {
    const n = input.value.length;
    counter.textContent = `${n} / ${data.max_input_chars} characters`;
    counter.classList.toggle("over", n > data.max_input_chars);
  };
  input.addEventListener("input", count);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) $("form").requestSubmit();
  });
  count();
  document.body.dataset.state = "idle";

  const showError = (message) => { error.textContent = message; error.hidden = false; };
  const request = () => {
    const body = {[data.kind === "generation" ? "prompt" : "text"]: input.value};
    for (const [o, field] of fields) {
      if (field.value === "" && o.optional) body[o.key] = null;
      else body[o.key] = Number(field.value);
    }
    return body;
  };
  const refused = async (response) => {
    try { return (await response.json()).error || response.statusText; }
    catch (e) { return `the server answered ${response.status} ${response.statusText}`; }
  };

  const showAttention = (view) => {
    $("attention-section").hidden = !view;
    explorer.setViews(view ? [view] : []);
  };

  const showAnswer = (answer) => {
    output.replaceChildren();
    if (data.kind === "classification") {
      output.append(Aiayn.el("div", {className: "label"}, answer.text));
      const top = Math.max(...answer.probabilities);
      const bars = Aiayn.el("div", {className: "bars"});
      answer.labels.forEach((label, i) => {
        const p = answer.probabilities[i];
        bars.append(Aiayn.el("span", {className: "name"}, label),
          Aiayn.el("div", {className: p === top ? "bar top" : "bar",
            style: `width:${(100 * p).toFixed(1)}%`}),
          Aiayn.el("span", {className: "p"}, `${(100 * p).toFixed(1)}%`));
      });
      output.append(bars);
    } else {
      output.textContent = answer.text;
    }
    showAttention(answer.attention);
  };

  // Generation: newline-delimited JSON read as it arrives; each piece is appended as a span,
  // and the last line brings the attention over the prompt and what was written.
  const stream = async (response) => {
    output.replaceChildren(Aiayn.el("span", {className: "prompt"}, input.value));
    showAttention(null);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    let pieces = 0;
    for (;;) {
      const {value, done} = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, {stream: true});
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + 1);
        if (!line.trim()) continue;
        const item = JSON.parse(line);
        if ("piece" in item) {
          pieces += 1;
          output.append(Aiayn.el("span", {className: "piece"}, item.piece));
          status.textContent = `${ui.busy} ${pieces} pieces`;
        } else if ("error" in item) {
          showError(item.error);
        } else if (item.done) {
          showAttention(item.attention);
        }
      }
    }
    return pieces;
  };

  $("form").addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    submit.disabled = true;
    status.textContent = ui.busy;
    document.body.dataset.state = "busy";
    const started = performance.now();
    try {
      const response = await fetch(ui.endpoint, {
        method: "POST", headers: {"Content-Type": "application/json"},
        body: JSON.stringify(request()),
      });
      if (!response.ok) {
        showError(await refused(response));
        status.textContent = "";
        return;
      }
      let what = "";
      if (data.kind === "generation") what = `${await stream(response)} pieces, `;
      else showAnswer(await response.json());
      status.textContent = `done: ${what}${((performance.now() - started) / 1000).toFixed(2)} s`;
    } catch (e) {
      showError(`no answer from the server: ${e.message}`);
      status.textContent = "";
    } finally {
      submit.disabled = false;
      document.body.dataset.state = "idle";
    }
  });
};

document.addEventListener("DOMContentLoaded", () => Aiayn.live(Aiayn.readData("aiayn-data")));
