"use strict";
// Attention heatmaps: query tokens down the left (rows), key tokens along the top (columns).
// A view is {title, query_tokens, key_tokens, weights[layer][head][query][key]}.
// Hovering a query token lights its row (where it attends); a key token, its column (what
// attends to it); a cell, both, with its weight in the readout line.

Aiayn.HEAT_LOW = [247, 251, 255];
Aiayn.HEAT_HIGH = [8, 48, 107];

// The fill of a cell: white to dark blue as weight goes from 0 to the matrix's largest weight.
Aiayn.heatColour = function (weight, max) {
  const t = max > 0 ? Math.min(weight / max, 1) : 0;
  const c = Aiayn.HEAT_LOW.map((lo, i) => Math.round(lo + (Aiayn.HEAT_HIGH[i] - lo) * t));
  return `rgb(${c[0]}, ${c[1]}, ${c[2]})`;
};

// A token as a label: visible even when blank, cut to `limit` characters.
Aiayn.tokenLabel = function (token, limit) {
  if (token === "") return "\u2205";
  if (token.trim() === "") return "\u2423".repeat(Math.min(token.length, 3));
  return token.length > limit ? token.slice(0, limit - 1) + "\u2026" : token;
};

// The SVG heatmap of one head: rect.cell elements carry data-q, data-k and data-w (the weight).
Aiayn.heatmap = function (view, layer, head, readout) {
  const matrix = view.weights[layer][head];
  const nq = view.query_tokens.length;
  const nk = view.key_tokens.length;
  const cell = Math.max(6, Math.min(28, Math.floor(560 / Math.max(nq, nk))));
  const font = Math.max(7, Math.min(13, cell - 2));
  const limit = 16;
  const longest = (tokens) => Math.max(...tokens.map((t) => Aiayn.tokenLabel(t, limit).length));
  const left = Math.ceil(longest(view.query_tokens) * font * 0.62) + 10;
  const top = Math.ceil(longest(view.key_tokens) * font * 0.62) + 10;
  const max = Math.max(...matrix.map((row) => Math.max(...row)));
  const svg = Aiayn.svg("svg", {
    class: "heatmap", width: left + nk * cell + 4, height: top + nq * cell + 4,
    role: "img", "aria-label": `attention of layer ${layer}, head ${head}`,
    "data-layer": layer, "data-head": head,
  });
  const keys = Aiayn.svg("g", {class: "keys"});
  view.key_tokens.forEach((token, k) => {
    const x = left + k * cell + cell / 2 + font / 3;
    const label = Aiayn.svg("text", {
      class: "token key", "data-k": k, x: x, y: top - 6, "font-size": font,
      transform: `rotate(-90 ${x} ${top - 6})`,
    }, Aiayn.tokenLabel(token, limit));
    label.append(Aiayn.svg("title", {}, token));
    keys.append(label);
  });
  const queries = Aiayn.svg("g", {class: "queries"});
  view.query_tokens.forEach((token, q) => {
    const label = Aiayn.svg("text", {
      class: "token query", "data-q": q, x: left - 6, y: top + q * cell + cell / 2 + font / 3,
      "font-size": font, "text-anchor": "end",
    }, Aiayn.tokenLabel(token, limit));
    label.append(Aiayn.svg("title", {}, token));
    queries.append(label);
  });
  const cells = Aiayn.svg("g", {class: "cells"});
  matrix.forEach((row, q) => row.forEach((w, k) => {
    const rect = Aiayn.svg("rect", {
      class: "cell", "data-q": q, "data-k": k, "data-w": w,
      x: left + k * cell, y: top + q * cell, width: cell, height: cell,
      fill: Aiayn.heatColour(w, max),
    });
    cells.append(rect);
  }));
  svg.append(keys, queries, cells);

  const light = (selector, on) => {
    svg.classList.toggle("focusing", on);
    for (const node of svg.querySelectorAll(selector)) node.classList.toggle("hl", on);
  };
  const say = (text) => { if (readout) readout.textContent = text; };
  const onHover = (node, selector, text) => {
    node.addEventListener("mouseenter", () => { light(selector, true); say(text()); });
    node.addEventListener("mouseleave", () => { light(selector, false); say(""); });
  };
  for (const label of queries.children) {
    const q = Number(label.dataset.q);
    onHover(label, `[data-q="${q}"]`, () => {
      const row = matrix[q];
      const best = row.indexOf(Math.max(...row));
      return `${view.query_tokens[q]} attends most to ${view.key_tokens[best]} ` +
        `(${Aiayn.fmt(row[best])})`;
    });
  }
  for (const label of keys.children) {
    const k = Number(label.dataset.k);
    onHover(label, `[data-k="${k}"]`, () => {
      const total = matrix.reduce((sum, row) => sum + row[k], 0);
      return `${view.key_tokens[k]} receives ${Aiayn.fmt(total)} in all from ${nq} queries`;
    });
  }
  for (const rect of cells.children) {
    const q = Number(rect.dataset.q);
    const k = Number(rect.dataset.k);
    const text = () =>
      `${view.query_tokens[q]} \u2192 ${view.key_tokens[k]}: ${Aiayn.fmt(matrix[q][k])}`;
    onHover(rect, `[data-q="${q}"], [data-k="${k}"]`, text);
  }
  return svg;
};

// Controls (view, layer, head) and the heatmap they choose. Returns {setViews(views)} so a page
// can show other views later (the live page does, after every answer).
Aiayn.attentionExplorer = function (container, views) {
  const state = {views: [], view: 0, layer: 0, head: 0};
  const controls = Aiayn.el("div", {className: "controls"});
  const readout = Aiayn.el("div", {className: "readout", "aria-live": "polite"});
  const drawing = Aiayn.el("div", {className: "drawing"});
  container.replaceChildren(controls, drawing, readout);

  // Layers and heads counted from 0, as `aiayn attention --layer/--head` and its PNG titles.
  const range = (n, word) => Array.from({length: n}, (_, i) => [i, `${word} ${i}`]);
  const labelled = (text, node) => Aiayn.el("label", {}, text, " ", node);
  const draw = () => {
    const view = state.views[state.view];
    drawing.replaceChildren(Aiayn.heatmap(view, state.layer, state.head, readout));
  };
  const build = () => {
    controls.replaceChildren();
    if (state.views.length === 0) {
      drawing.replaceChildren(Aiayn.el("p", {className: "note"}, "No attention to show."));
      return;
    }
    const view = state.views[state.view];
    state.layer = Math.min(state.layer, view.weights.length - 1);
    state.head = Math.min(state.head, view.weights[0].length - 1);
    const viewSelect = Aiayn.select("view", state.views.map((v, i) => [i, v.title]), (v) => {
      state.view = Number(v); build();
    });
    const layerSelect = Aiayn.select("layer", range(view.weights.length, "layer"), (v) => {
      state.layer = Number(v); draw();
    });
    const headSelect = Aiayn.select("head", range(view.weights[0].length, "head"), (v) => {
      state.head = Number(v); draw();
    });
    viewSelect.value = String(state.view);
    layerSelect.value = String(state.layer);
    headSelect.value = String(state.head);
    if (state.views.length > 1) controls.append(labelled("View", viewSelect));
    else controls.append(Aiayn.el("span", {className: "view-title"}, view.title));
    controls.append(labelled("Layer", layerSelect), labelled("Head", headSelect));
    draw();
  };
  const api = {
    setViews(newViews) {
      state.views = newViews || [];
      state.view = 0;
      build();
    },
  };
  api.setViews(views);
  return api;
};
