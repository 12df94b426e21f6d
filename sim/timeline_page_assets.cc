// The fixed parts of the timeline page (timeline_page.h): kept apart from the code that writes
// the data so each reads as what it is: CSS and markup, and the drawing script. The script reads
// only the JSON of docs/formats/timeline.md; the ids and classes below are what
// tests/sim/timeline_browser_test.py checks.
#include "sim/timeline_page.h"

namespace sluice::sim::timeline_page_detail {

const char* const kHead = R"HTML(<style>
body { font: 13px system-ui, sans-serif; margin: 8px; color: #222; }
h1 { font-size: 16px; margin: 0 0 4px; }
#run-info span { margin-right: 14px; }
#run-info .failed { color: #c00; font-weight: bold; }
#truncation { color: #a60; margin: 4px 0; }
#controls { margin: 6px 0; display: flex; flex-wrap: wrap; gap: 10px; align-items: center; }
#controls label { white-space: nowrap; }
#legend { margin: 4px 0 6px; }
.legend-item { display: inline-block; margin-right: 14px; }
.swatch { display: inline-block; width: 14px; height: 10px; margin-right: 4px; vertical-align: middle; }
#diagram { display: flex; border: 1px solid #ccc; position: relative; }
#lanes { flex: none; width: 90px; padding-top: 24px; border-right: 1px solid #ccc; }
.lane { height: 28px; line-height: 28px; padding-left: 6px; box-sizing: border-box; border-bottom: 1px solid #eee; }
.lane.client { color: #06c; }
.lane.hosting { font-weight: bold; background: #fff4cc; }
#chart { flex: auto; display: block; min-width: 0; cursor: grab; }
#tooltip { position: fixed; background: #fffbe6; border: 1px solid #bbb; padding: 3px 6px; pointer-events: none;
  max-width: 480px; white-space: pre-wrap; font-size: 12px; }
#violations { color: #c00; }
</style>
</head>
<body>
<header id="summary">
<h1>sluice simulation timeline</h1>
<div id="run-info"></div>
<div id="truncation" hidden></div>
</header>
<div id="controls">
<button id="zoom-in" title="zoom in (or mouse wheel)">+</button>
<button id="zoom-out" title="zoom out">&minus;</button>
<button id="zoom-reset">whole run</button>
<label>partition <select id="partition-filter"><option value="all">all</option></select></label>
<span id="class-filter"></span>
<span id="mark-filter"></span>
<span id="view-range"></span>
<a id="view-link" href="#">link to this view</a>
</div>
<div id="legend"></div>
<div id="diagram"><div id="lanes"></div><canvas id="chart"></canvas></div>
<div id="tooltip" hidden></div>
<ol id="violations"></ol>
)HTML";

const char* const kScript = R"JS("use strict";
window.addEventListener("error", (event) => { document.body.dataset.ready = "error: " + event.message; });
(function () {
  const data = JSON.parse(document.getElementById("timeline-data").textContent);
  const LANE_H = 28, AXIS_H = 24;
  const CLASS_COLORS = { swim: "#1f77b4", raft: "#2ca02c", rpc: "#9467bd", http: "#ff7f0e", other: "#7f7f7f" };
  const MARK_KINDS = ["crash", "start", "fault", "role", "client", "violation"];
  const MARK_COLORS = { crash: "#000000", start: "#444444", fault: "#d95f02", role: "#1b9e77", client: "#3366cc", violation: "#e00000" };
  const lanes = data.lanes, messages = data.messages.rows, marks = data.marks.rows;
  const end = Math.max(1, data.simulated_us);
  const view = { t0: 0, t1: end, partition: "all", classes: new Set(data.classes), kinds: new Set(MARK_KINDS) };
  const canvas = document.getElementById("chart"), ctx = canvas.getContext("2d");
  const body = document.body;
  let drawnMarks = [];

  function text(tag, content, cls) {
    const element = document.createElement(tag);
    element.textContent = content;
    if (cls) element.className = cls;
    return element;
  }
  // Seconds with as many decimals as `step` (in us) needs; microseconds by default.
  function seconds(us, step = 1) { return (us / 1e6).toFixed(Math.max(0, Math.min(6, 6 - Math.floor(Math.log10(step))))) + " s"; }

  // --- static parts: summary, lanes, filters, legend, violations ---
  const info = document.getElementById("run-info");
  info.append(text("span", "scenario " + data.scenario), text("span", "seed " + data.seed),
              text("span", "simulated " + seconds(data.simulated_us, 1000)), text("span", "trace_hash " + data.trace_hash),
              text("span", "result " + data.result, data.result === "passed" ? "" : "failed"));
  const notes = [];
  if (data.messages.sample_every > 1) {
    notes.push("messages sampled: 1 in " + data.messages.sample_every + " of " + data.messages.seen + " kept (" + messages.length + " shown)");
  }
  if (data.marks.dropped > 0) notes.push(data.marks.dropped + " events not recorded (the recorder's cap was reached)");
  const truncation = document.getElementById("truncation");
  if (notes.length > 0) { truncation.textContent = "truncated: " + notes.join("; "); truncation.hidden = false; }
  body.dataset.truncated = notes.length > 0 ? "yes" : "no";

  const laneBox = document.getElementById("lanes");
  lanes.forEach((lane, index) => {
    const element = text("div", lane.host, "lane " + lane.kind);
    element.dataset.host = lane.host;
    element.dataset.index = index;
    element.title = lane.kind === "client" ? "client host" : "node";
    laneBox.append(element);
  });

  const partitionFilter = document.getElementById("partition-filter");
  if (data.groups.some((group) => group.label === "controller")) partitionFilter.append(new Option("controller", "controller"));
  for (const partition of data.partitions) partitionFilter.append(new Option("partition " + partition, String(partition)));
  partitionFilter.addEventListener("change", () => { view.partition = partitionFilter.value; highlightLanes(); redraw(); });

  function checkbox(box, label, key, set, value) {
    const wrapper = document.createElement("label");
    const input = document.createElement("input");
    input.type = "checkbox";
    input.checked = true;
    input.dataset[key] = value;
    input.addEventListener("change", () => { if (input.checked) set.add(value); else set.delete(value); redraw(); });
    wrapper.append(input, " " + label);
    box.append(wrapper, " ");
  }
  const classBox = document.getElementById("class-filter");
  for (const cls of data.classes) checkbox(classBox, cls, "class", view.classes, cls);
  const markBox = document.getElementById("mark-filter");
  for (const kind of MARK_KINDS) checkbox(markBox, kind, "kind", view.kinds, kind);

  const legend = document.getElementById("legend");
  function legendItem(color, label, key, value) {
    const item = text("span", "", "legend-item");
    const swatch = text("span", "", "swatch");
    swatch.style.background = color;
    item.append(swatch, label);
    item.dataset[key] = value;
    legend.append(item);
  }
  for (const cls of data.classes) legendItem(CLASS_COLORS[cls], cls + " messages (" + data.messages.seen_by_class[cls] + ")", "class", cls);
  legendItem("#bbbbbb", "dropped message (dashed, x at the end)", "class", "dropped");
  for (const kind of MARK_KINDS) legendItem(MARK_COLORS[kind], kind, "kind", kind);
  legendItem("rgba(150,150,150,0.6)", "node down", "kind", "down");
  legendItem("rgba(255,165,0,0.18)", "network partition", "kind", "partition");

  const violationList = document.getElementById("violations");
  for (const mark of marks) {
    if (mark[2] === "violation") violationList.append(text("li", seconds(mark[0]) + ": " + mark[5]));
  }

  // --- derived intervals: nodes down (crash .. start), network partitions (partition .. heal) ---
  const down = [], partitioned = [];
  const downSince = new Map();
  let partitionSince = -1;
  for (const [at, lane, kind, , , label] of marks) {
    if (kind === "crash") downSince.set(lane, at);
    else if (kind === "start" && downSince.has(lane)) { down.push([lane, downSince.get(lane), at]); downSince.delete(lane); }
    else if (kind === "fault" && lane < 0) {
      if (/^(partition|isolate)/.test(label)) { if (partitionSince < 0) partitionSince = at; }
      else if (/^(heal|faults stop)/.test(label) && partitionSince >= 0) { partitioned.push([partitionSince, at]); partitionSince = -1; }
    }
  }
  for (const [lane, since] of downSince) down.push([lane, since, end]);
  if (partitionSince >= 0) partitioned.push([partitionSince, end]);

  function markVisible(mark) {
    if (!view.kinds.has(mark[2])) return false;
    const partition = mark[4];
    if (view.partition === "all" || partition === -1) return true;
    return view.partition === (partition === -2 ? "controller" : String(partition));
  }
  function highlightLanes() {
    const hosting = new Set();
    for (const mark of marks) if (mark[2] === "role" && view.partition !== "all" && markVisible(mark)) hosting.add(mark[1]);
    for (const element of laneBox.children) element.classList.toggle("hosting", hosting.has(Number(element.dataset.index)));
  }

  // --- drawing ---
  function laneY(lane) { return AXIS_H + lane * LANE_H + LANE_H / 2; }
  function tickStep(span) {
    const raw = span / 10, power = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 5, 10]) if (power * m >= raw) return power * m;
    return power * 10;
  }
  function resize() {
    const ratio = window.devicePixelRatio || 1;
    const width = Math.max(200, canvas.parentElement.clientWidth - laneBox.offsetWidth - 2);
    const height = AXIS_H + lanes.length * LANE_H;
    canvas.width = width * ratio;
    canvas.height = height * ratio;
    canvas.style.height = height + "px";
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    return { width, height };
  }
  function drawBackground(x, size) {
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, size.width, size.height);
    lanes.forEach((lane, index) => {
      ctx.fillStyle = index % 2 ? "#fafafa" : "#ffffff";
      ctx.fillRect(0, AXIS_H + index * LANE_H, size.width, LANE_H);
    });
    ctx.fillStyle = "rgba(255,165,0,0.18)";
    for (const [from, to] of partitioned) ctx.fillRect(x(from), AXIS_H, Math.max(1, x(to) - x(from)), size.height - AXIS_H);
    const step = tickStep(view.t1 - view.t0);
    ctx.fillStyle = "#333";
    ctx.strokeStyle = "#ddd";
    ctx.font = "11px sans-serif";
    for (let t = Math.ceil(view.t0 / step) * step; t <= view.t1; t += step) {
      ctx.beginPath(); ctx.moveTo(x(t), AXIS_H - 4); ctx.lineTo(x(t), size.height); ctx.stroke();
      ctx.fillText(seconds(t, step), x(t) + 2, 12);
    }
  }
  // Over the messages, so a node's down time shows however many messages it missed.
  function drawDown(x) {
    ctx.fillStyle = "rgba(150,150,150,0.6)";
    for (const [lane, from, to] of down) ctx.fillRect(x(from), AXIS_H + lane * LANE_H + 4, Math.max(1, x(to) - x(from)), LANE_H - 8);
  }
  function visibleMessages() {
    let count = 0;
    for (const m of messages) if (m[1] >= view.t0 && m[0] <= view.t1 && view.classes.has(data.classes[m[4]])) ++count;
    return count;
  }
  function drawMessages(x) {
    // Fainter lines the more there are, so dense stretches stay readable as a density.
    const alpha = Math.max(0.06, Math.min(0.6, 3000 / Math.max(1, visibleMessages())));
    let drawn = 0;
    for (let c = 0; c < data.classes.length; ++c) {
      const cls = data.classes[c];
      if (!view.classes.has(cls)) continue;
      for (const dropped of [false, true]) {
        ctx.beginPath();
        for (const m of messages) {
          if (m[4] !== c || ((m[5] & 2) !== 0) !== dropped || m[1] < view.t0 || m[0] > view.t1) continue;
          const x1 = x(m[0]), y1 = laneY(m[2]), x2 = x(m[1]), y2 = laneY(m[3]);
          ctx.moveTo(x1, y1); ctx.lineTo(x2, y2);
          if (dropped) { ctx.moveTo(x2 - 3, y2 - 3); ctx.lineTo(x2 + 3, y2 + 3); ctx.moveTo(x2 + 3, y2 - 3); ctx.lineTo(x2 - 3, y2 + 3); }
          ++drawn;
        }
        ctx.strokeStyle = CLASS_COLORS[cls] || "#888";
        ctx.globalAlpha = dropped ? Math.max(0.3, alpha) : alpha;
        ctx.setLineDash(dropped ? [3, 3] : []);
        ctx.lineWidth = 1;
        ctx.stroke();
      }
    }
    ctx.globalAlpha = 1;
    ctx.setLineDash([]);
    return drawn;
  }
  function drawMark(mark, px, labels, size) {
    const [, lane, kind, , , label] = mark;
    ctx.fillStyle = ctx.strokeStyle = MARK_COLORS[kind];
    if (kind === "violation" || lane < 0) {
      ctx.lineWidth = kind === "violation" ? 2 : 1;
      ctx.beginPath(); ctx.moveTo(px, AXIS_H); ctx.lineTo(px, size.height); ctx.stroke();
      ctx.lineWidth = 1;
      if (labels || kind === "violation") ctx.fillText(label, px + 3, AXIS_H + 10);
      return AXIS_H + 5;
    }
    const y = laneY(lane);
    ctx.beginPath();
    if (kind === "crash") { ctx.moveTo(px - 5, y - 5); ctx.lineTo(px + 5, y + 5); ctx.moveTo(px + 5, y - 5); ctx.lineTo(px - 5, y + 5); ctx.lineWidth = 2; ctx.stroke(); ctx.lineWidth = 1; }
    else if (kind === "start") { ctx.moveTo(px, y - 6); ctx.lineTo(px + 6, y); ctx.lineTo(px, y + 6); ctx.fill(); }
    else if (kind === "role") { ctx.arc(px, y, label.startsWith("leader") ? 5 : 3, 0, 2 * Math.PI); ctx.fill(); }
    else if (kind === "client") { ctx.rect(px - 1, y - 7, 2, 6); ctx.fill(); }
    else { ctx.moveTo(px, y - 7); ctx.lineTo(px + 5, y + 2); ctx.lineTo(px - 5, y + 2); ctx.fill(); }
    if (labels) ctx.fillText(label, px + 6, y - 4);
    return y;
  }
  function drawMarks(x, size) {
    const visible = [];
    for (const mark of marks) if (mark[0] >= view.t0 && mark[0] <= view.t1 && markVisible(mark)) visible.push(mark);
    const labels = visible.length <= 300;
    ctx.font = "10px sans-serif";
    drawnMarks = visible.map((mark) => { const px = x(mark[0]); return [px, drawMark(mark, px, labels, size), mark]; });
    return visible.length;
  }
  function draw() {
    const size = resize();
    const scale = size.width / (view.t1 - view.t0);
    const x = (t) => (t - view.t0) * scale;
    drawBackground(x, size);
    body.dataset.messagesDrawn = drawMessages(x);
    drawDown(x);
    body.dataset.marksDrawn = drawMarks(x, size);
    const step = tickStep(view.t1 - view.t0) / 10;
    document.getElementById("view-range").textContent = seconds(view.t0, step) + " .. " + seconds(view.t1, step);
    updateLink();
  }
  let pending = false;
  function redraw() {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; draw(); });
  }

  // --- zoom, pan, tooltips ---
  function zoom(factor, anchor) {
    const span = Math.min(end, Math.max(10, (view.t1 - view.t0) * factor));
    const t = view.t0 + (view.t1 - view.t0) * anchor;
    view.t0 = Math.max(0, Math.min(end - span, t - span * anchor));
    view.t1 = view.t0 + span;
    redraw();
  }
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const rect = canvas.getBoundingClientRect();
    zoom(event.deltaY < 0 ? 0.8 : 1.25, (event.clientX - rect.left) / rect.width);
  }, { passive: false });
  document.getElementById("zoom-in").addEventListener("click", () => zoom(0.5, 0.5));
  document.getElementById("zoom-out").addEventListener("click", () => zoom(2, 0.5));
  document.getElementById("zoom-reset").addEventListener("click", () => { view.t0 = 0; view.t1 = end; redraw(); });
  let dragging = null;
  canvas.addEventListener("mousedown", (event) => { dragging = { x: event.clientX, t0: view.t0, t1: view.t1 }; });
  window.addEventListener("mouseup", () => { dragging = null; });
  const tooltip = document.getElementById("tooltip");
  window.addEventListener("mousemove", (event) => {
    if (dragging) {
      const span = dragging.t1 - dragging.t0;
      const shift = (dragging.x - event.clientX) / canvas.getBoundingClientRect().width * span;
      view.t0 = Math.max(0, Math.min(end - span, dragging.t0 + shift));
      view.t1 = view.t0 + span;
      redraw();
      return;
    }
    const rect = canvas.getBoundingClientRect();
    const px = event.clientX - rect.left, py = event.clientY - rect.top;
    const near = drawnMarks.find(([mx, my]) => Math.abs(mx - px) < 6 && Math.abs(my - py) < 8);
    tooltip.hidden = !near;
    if (!near) return;
    const mark = near[2];
    tooltip.textContent = seconds(mark[0]) + " " + (mark[1] >= 0 ? lanes[mark[1]].host : "cluster") + " " + mark[2] + ": " + mark[5];
    tooltip.style.left = event.clientX + 12 + "px";
    tooltip.style.top = event.clientY + 12 + "px";
  });
  window.addEventListener("resize", redraw);
  window.addEventListener("hashchange", () => { applyHash(); highlightLanes(); redraw(); });

  // The view a link names: #t0=S&t1=S&partition=P&classes=a,b&kinds=a,b (seconds; any subset).
  function applyHash() {
    const params = new URLSearchParams(location.hash.slice(1));
    const t0 = Number(params.get("t0")), t1 = Number(params.get("t1"));
    if (params.has("t0") && params.has("t1") && t1 > t0) {
      view.t0 = Math.max(0, t0 * 1e6);
      view.t1 = Math.min(end, Math.max(view.t0 + 10, t1 * 1e6));
    }
    if (params.has("partition") && [...partitionFilter.options].some((o) => o.value === params.get("partition"))) {
      partitionFilter.value = view.partition = params.get("partition");
    }
    for (const [key, set, box, dataKey] of [["classes", view.classes, classBox, "class"], ["kinds", view.kinds, markBox, "kind"]]) {
      if (!params.has(key)) continue;
      const wanted = new Set(params.get(key).split(","));
      for (const input of box.querySelectorAll("input")) {
        input.checked = wanted.has(input.dataset[dataKey]);
        if (input.checked) set.add(input.dataset[dataKey]); else set.delete(input.dataset[dataKey]);
      }
    }
  }
  function updateLink() {
    const params = new URLSearchParams({ t0: view.t0 / 1e6, t1: view.t1 / 1e6, partition: view.partition,
                                         classes: [...view.classes].join(","), kinds: [...view.kinds].join(",") });
    document.getElementById("view-link").href = "#" + params.toString();
    body.dataset.partition = view.partition;
  }

  body.dataset.lanes = lanes.length;
  body.dataset.messagesKept = messages.length;
  applyHash();
  highlightLanes();
  draw();
  body.dataset.ready = "ok";
})();
)JS";

}  // namespace sluice::sim::timeline_page_detail
