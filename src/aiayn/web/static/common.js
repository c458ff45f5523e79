"use strict";
// Small DOM helpers shared by aiayn's pages. Text always goes in as text nodes, never as markup.
const Aiayn = {};

Aiayn.SVG_NS = "http://www.w3.org/2000/svg";

// An HTML element: el("td", {className: "num", title: "..."}, "text", childNode, ...).
Aiayn.el = function (tag, props, ...children) {
  const node = document.createElement(tag);
  Aiayn._assign(node, props);
  Aiayn.append(node, children);
  return node;
};

// An SVG element: attributes are set with setAttribute; "text" sets the text content.
Aiayn.svg = function (tag, attrs, text) {
  const node = document.createElementNS(Aiayn.SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
};

Aiayn._assign = function (node, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "className" || key === "textContent" || key === "value") node[key] = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, String(value));
  }
};

Aiayn.append = function (node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
};

// The page's data: the JSON text of the element with this id (a script of type application/json).
Aiayn.readData = function (id) {
  return JSON.parse(document.getElementById(id).textContent);
};

// A <select> of [value, label] pairs, calling onChange(value) when the choice changes.
Aiayn.select = function (name, options, onChange) {
  const select = Aiayn.el("select", {name: name, "aria-label": name});
  for (const [value, label] of options) {
    select.append(Aiayn.el("option", {value: String(value), textContent: label}));
  }
  select.addEventListener("change", () => onChange(select.value));
  return select;
};

// A number short enough for a table or an axis: 3 significant digits, exponents when tiny or huge.
Aiayn.fmt = function (x) {
  if (!Number.isFinite(x)) return String(x);
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a < 1e-3 || a >= 1e6) return x.toExponential(2);
  return String(Number(x.toPrecision(4)));
};

// A table with a header row and rows of strings.
Aiayn.table = function (head, rows, className) {
  const thead = Aiayn.el("thead", {}, Aiayn.el("tr", {}, head.map((h) => Aiayn.el("th", {}, h))));
  const tbody = Aiayn.el("tbody", {});
  for (const row of rows) tbody.append(Aiayn.el("tr", {}, row.map((c) => Aiayn.el("td", {}, c))));
  return Aiayn.el("table", {className: className || ""}, thead, tbody);
};
