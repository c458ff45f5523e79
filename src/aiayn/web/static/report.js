"use strict";
// The report page: every section is built from the JSON in #aiayn-data, as text nodes.

Aiayn.report = function (data) {
  const body = (id) => document.querySelector(`#${id} .body`);
  const note = (text) => Aiayn.el("p", {className: "note"}, text);

  const summary = body("summary");
  if (data.summary.length) {
    summary.append(Aiayn.table(["figure", "value"], data.summary, "summary"));
  } else {
    summary.append(note("This run has no summary.json."));
  }

  const curves = body("curves");
  if (data.curves.length) {
    for (const chart of data.curves) curves.append(Aiayn.lineChart(chart));
  } else {
    curves.append(note("No metrics were logged."));
  }

  const samples = body("samples");
  if (data.samples.length) {
    const withReference = data.samples.some((s) => s.reference !== null);
    const head = withReference ? ["input", "output", "reference"] : ["input", "output"];
    const rows = data.samples.map((s) =>
      withReference ? [s.input, s.output, s.reference ?? ""] : [s.input, s.output]);
    samples.append(Aiayn.table(head, rows, "samples"));
  } else {
    samples.append(note("No samples."));
  }

  Aiayn.attentionExplorer(body("attention"), data.attention);

  const config = body("config");
  for (const section of data.config) {
    config.append(Aiayn.el("div", {className: "config-section"},
      Aiayn.el("h3", {}, section.name), Aiayn.table(["key", "value"], section.rows, "config")));
  }
  if (!data.config.length) config.append(note("No config."));
};

document.addEventListener("DOMContentLoaded", () => Aiayn.report(Aiayn.readData("aiayn-data")));
