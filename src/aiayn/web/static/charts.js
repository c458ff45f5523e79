"use strict";
// Line charts of training curves, drawn as SVG. A chart is {title, series: [{name, points}]},
// points being [[step, value], ...] sorted by step.

Aiayn.PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b"];

// About `count` round tick values covering [lo, hi].
Aiayn.ticks = function (lo, hi, count) {
  const span = hi - lo;
  const raw = span / Math.max(count, 1);
  const magnitude = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
    ticks.push(Number(t.toPrecision(12)));
  }
  return ticks;
};

Aiayn.extent = function (values) {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) { lo -= Math.abs(lo) * 0.1 || 1; hi += Math.abs(hi) * 0.1 || 1; }
  return [lo, hi];
};

// The point of `points` whose step is nearest `step` (points sorted by step).
Aiayn.nearest = function (points, step) {
  let lo = 0;
  let hi = points.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (points[mid][0] < step) lo = mid; else hi = mid;
  }
  return Math.abs(points[lo][0] - step) <= Math.abs(points[hi][0] - step) ? points[lo] : points[hi];
};

Aiayn.lineChart = function (chart) {
  const W = 470, H = 256, M = {left: 62, right: 24, top: 12, bottom: 40};
  const all = chart.series.flatMap((s) => s.points);
  const [x0, x1] = Aiayn.extent(all.map((p) => p[0]));
  const [y0, y1] = Aiayn.extent(all.map((p) => p[1]));
  const X = (x) => M.left + (x - x0) / (x1 - x0) * (W - M.left - M.right);
  const Y = (y) => H - M.bottom - (y - y0) / (y1 - y0) * (H - M.top - M.bottom);
  const svg = Aiayn.svg("svg", {class: "chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H,
    role: "img", "aria-label": chart.title});
  const axes = Aiayn.svg("g", {class: "axes"});
  for (const t of Aiayn.ticks(y0, y1, 5)) {
    axes.append(Aiayn.svg("line", {class: "grid", x1: M.left, x2: W - M.right, y1: Y(t), y2: Y(t)}));
    axes.append(Aiayn.svg("text", {x: M.left - 6, y: Y(t) + 4, "text-anchor": "end"}, Aiayn.fmt(t)));
  }
  for (const t of Aiayn.ticks(x0, x1, 5)) {
    axes.append(Aiayn.svg("line", {class: "tick", x1: X(t), x2: X(t), y1: H - M.bottom,
      y2: H - M.bottom + 4}));
    axes.append(Aiayn.svg("text", {x: X(t), y: H - M.bottom + 16, "text-anchor": "middle"},
      Aiayn.fmt(t)));
  }
  axes.append(Aiayn.svg("text", {class: "axis-title", x: W - M.right, y: H - 4,
    "text-anchor": "end"}, "step"));
  axes.append(Aiayn.svg("rect", {class: "frame", x: M.left, y: M.top,
    width: W - M.left - M.right, height: H - M.top - M.bottom}));
  svg.append(axes);
  chart.series.forEach((series, i) => {
    const colour = Aiayn.PALETTE[i % Aiayn.PALETTE.length];
    const g = Aiayn.svg("g", {class: "series", "data-name": series.name});
    if (series.points.length === 1) {
      const [x, y] = series.points[0];
      g.append(Aiayn.svg("circle", {cx: X(x), cy: Y(y), r: 3, fill: colour}));
    } else {
      const d = series.points.map(([x, y]) => `${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join(" ");
      g.append(Aiayn.svg("polyline", {points: d, fill: "none", stroke: colour,
        "stroke-width": 1.6}));
    }
    svg.append(g);
  });

  // Hover: a cursor line and the value of every series at the nearest logged step.
  const cursor = Aiayn.svg("line", {class: "cursor", y1: M.top, y2: H - M.bottom,
    visibility: "hidden"});
  const overlay = Aiayn.svg("rect", {class: "overlay", x: M.left, y: M.top,
    width: W - M.left - M.right, height: H - M.top - M.bottom, fill: "transparent"});
  svg.append(cursor, overlay);
  const readout = Aiayn.el("div", {className: "readout"});
  overlay.addEventListener("mousemove", (event) => {
    const box = svg.getBoundingClientRect();
    const px = (event.clientX - box.left) * W / box.width;
    const step = x0 + (px - M.left) / (W - M.left - M.right) * (x1 - x0);
    const parts = chart.series.map((s) => {
      const [x, y] = Aiayn.nearest(s.points, step);
      return `${s.name} ${Aiayn.fmt(y)} (step ${x})`;
    });
    cursor.setAttribute("x1", X(step));
    cursor.setAttribute("x2", X(step));
    cursor.setAttribute("visibility", "visible");
    readout.textContent = parts.join(" \u00b7 ");
  });
  overlay.addEventListener("mouseleave", () => {
    cursor.setAttribute("visibility", "hidden");
    readout.textContent = "";
  });

  const legend = Aiayn.el("div", {className: "legend"}, chart.series.map((s, i) =>
    Aiayn.el("span", {className: "key"},
      Aiayn.el("i", {style: `background:${Aiayn.PALETTE[i % Aiayn.PALETTE.length]}`}), s.name)));
  return Aiayn.el("figure", {className: "chart-box", dataset: {title: chart.title}},
    Aiayn.el("figcaption", {}, chart.title), svg, legend, readout);
};
