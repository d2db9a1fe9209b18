// The dashboard: one self-contained HTML page (no external assets, no build step), plain JS and
// CSS inline under a per-response CSP nonce. It draws GET /api/state and redraws on every
// `state` event of GET /api/events (falling back to polling); the charts (SVG built with the DOM,
// styled by classes) come from GET /api/history, fetched every 10 s (not pushed: see
// dashboard-history.ts). Everything from the cluster is put in the DOM as text (textContent) or
// attribute values, never as HTML.
// The script below is kept free of backticks and "${" because it lives in a template string.

const CSS = String.raw`
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1b1f24; --muted: #5b6470; --line: #d8dde3;
  --ok: #2e7d32; --warn: #b26a00; --bad: #c62828; --accent: #1565c0; --mem: #7b1fa2; --track: #e3e7ec; --plot: #f1f3f6; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171b; --card: #1d2126; --fg: #e6e9ed; --muted: #9aa4af; --line: #323840;
  --ok: #66bb6a; --warn: #ffb74d; --bad: #ef5350; --accent: #64b5f6; --mem: #ce93d8; --track: #2b3138; --plot: #171a1e; } }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--fg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem 1.5rem; padding: .8rem 1.2rem; border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { margin: 0; font-size: 1.3rem; }
.summary { display: flex; flex-wrap: wrap; gap: .3rem 1rem; color: var(--muted); margin: 0; padding: 0; list-style: none; }
.conn { margin-left: auto; color: var(--muted); }
.conn.live::before { content: "\25CF "; color: var(--ok); }
.conn.down::before { content: "\25CF "; color: var(--bad); }
main { padding: 1rem 1.2rem 2rem; display: grid; gap: 1.2rem; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: .8rem 1rem 1rem; min-width: 0; }
h2 { font-size: 1.05rem; margin: 0 0 .6rem; }
h3 { font-size: .98rem; margin: 0; }
.hosts { display: grid; grid-template-columns: repeat(auto-fill, minmax(250px, 1fr)); gap: .8rem; }
.host { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .7rem; }
.host header { all: unset; display: flex; justify-content: space-between; align-items: baseline; gap: .5rem; }
.badge { font-size: .75rem; padding: 0 .4rem; border-radius: 9px; border: 1px solid currentColor; }
.badge.stale, .badge.bad { color: var(--bad); } .badge.power { color: var(--muted); } .badge.maint { color: var(--warn); } .badge.ok { color: var(--ok); }
.meter { display: grid; grid-template-columns: 3.6rem 1fr 3.2rem; align-items: center; gap: .4rem; margin: .35rem 0; font-size: .85rem; }
.track { height: .75rem; background: var(--track); border-radius: 4px; overflow: hidden; position: relative; }
.fill { height: 100%; background: var(--ok); transition: width .4s; }
.fill.warn { background: var(--warn); } .fill.bad { background: var(--bad); }
.limit { position: absolute; top: 0; bottom: 0; width: 2px; background: var(--fg); opacity: .45; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
.vms { list-style: none; margin: .4rem 0 0; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem; }
.vms li { font-size: .8rem; padding: .05rem .4rem; border-radius: 4px; background: var(--track); }
.vms li.migrating { outline: 2px dashed var(--accent); }
.vms li.off { opacity: .55; text-decoration: line-through; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; font-size: .88rem; }
th, td { text-align: left; padding: .3rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.nw { white-space: nowrap; }
progress { width: 8rem; vertical-align: middle; }
.plan { border: 1px solid var(--line); border-radius: 6px; padding: .6rem .7rem; margin-bottom: .7rem; }
.plan-head { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: center; margin-bottom: .4rem; }
button { font: inherit; padding: .35rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
button:disabled { opacity: .5; cursor: not-allowed; }
button:focus-visible { outline: 3px solid var(--warn); outline-offset: 2px; }
.rules { color: var(--bad); }
.timeline { list-style: none; margin: 0; padding: 0 0 0 1.1rem; border-left: 2px solid var(--line); }
.timeline li { position: relative; padding: .25rem 0 .45rem .4rem; }
.timeline li::before { content: ""; position: absolute; left: -1.55rem; top: .55rem; width: .7rem; height: .7rem; border-radius: 50%; background: var(--muted); }
.timeline li.succeeded::before { background: var(--ok); } .timeline li.failed::before { background: var(--bad); }
.timeline li.skipped::before, .timeline li.cancelled::before { background: var(--warn); }
.timeline time { font-variant-numeric: tabular-nums; color: var(--muted); margin-right: .5rem; }
.state { font-weight: 600; }
.state.succeeded { color: var(--ok); } .state.failed { color: var(--bad); } .state.skipped, .state.cancelled { color: var(--warn); }
details summary { cursor: pointer; color: var(--accent); }
#notice { min-height: 1.2em; margin: 0; }
#notice.error { color: var(--bad); }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 1.2rem; }
#alerts:empty { display: none; }
#alerts { display: grid; gap: .6rem; }
.banner { background: var(--card); border: 1px solid var(--line); border-left: 6px solid var(--bad); border-radius: 8px; padding: .6rem 1rem; }
.banner.warn { border-left-color: var(--warn); }
.banner h2 { color: var(--bad); margin: 0 0 .3rem; } .banner.warn h2 { color: var(--warn); }
.banner p { margin: .2rem 0; } .banner ul { margin: .2rem 0; padding-left: 1.2rem; }
.banner code { overflow-wrap: anywhere; }
.sparks { margin: .3rem 0 .2rem; }
figure { margin: 0; min-width: 0; }
.spark { display: grid; grid-template-columns: 3.6rem 1fr 3.2rem; align-items: center; gap: .4rem; margin: .25rem 0; font-size: .85rem; }
.spark .when, .spark .peak { display: block; font-size: .72rem; line-height: 1.2; color: var(--muted); }
svg.chart { display: block; width: 100%; height: 30px; background: var(--plot); border: 1px solid var(--line); border-radius: 3px; }
svg.chart.big { height: 130px; }
svg.chart path, svg.chart line { vector-effect: non-scaling-stroke; }
.chart .line { fill: none; stroke: var(--accent); stroke-width: 1.5; stroke-linejoin: round; stroke-linecap: round; }
.chart .area { fill: var(--accent); fill-opacity: .2; stroke: none; }
.chart.imbalance .area { fill-opacity: .08; }
.chart.mem .line { stroke: var(--mem); } .chart.mem .area { fill: var(--mem); }
.chart .threshold { stroke: var(--bad); stroke-width: 1.2; stroke-dasharray: 4 3; }
.chart .bar.succeeded { fill: var(--ok); } .chart .bar.failed { fill: var(--bad); }
.chart .started { fill: none; stroke: var(--accent); stroke-width: 2.5; }
.trends { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 1.2rem; }
.trend figcaption { margin-bottom: .3rem; }
.axis { display: flex; justify-content: space-between; font-size: .75rem; color: var(--muted); }
.legend { list-style: none; display: flex; flex-wrap: wrap; gap: .2rem 1rem; margin: .3rem 0 0; padding: 0; font-size: .85rem; }
.swatch { display: inline-block; width: .8rem; height: .8rem; border-radius: 2px; margin-right: .3rem; vertical-align: -.1rem; }
.swatch.started { background: var(--accent); } .swatch.succeeded { background: var(--ok); } .swatch.failed { background: var(--bad); }
.swatch.line { height: .2rem; vertical-align: .2rem; background: var(--accent); } .swatch.dashed { height: 0; border-top: 2px dashed var(--bad); vertical-align: .25rem; border-radius: 0; }
.swatch.tick { height: .25rem; vertical-align: .2rem; background: var(--accent); }
.badge.failure.failed, .badge.failure.fenced { color: var(--bad); font-weight: 600; } .badge.failure.recovering, .badge.failure.agent_down, .badge.failure.suspect { color: var(--warn); }
.badge.failure.recovered { color: var(--accent); }
.host.failed, .host.fenced { border-color: var(--bad); border-width: 2px; } .host.recovering, .host.agent_down { border-color: var(--warn); border-width: 2px; }
.recovery h3 { margin: .8rem 0 .3rem; }
.recovery ul.attempts { margin: .2rem 0 0; padding-left: 1.1rem; font-size: .85rem; }
.outcome.started { color: var(--ok); } .outcome.failed, .outcome.refused { color: var(--bad); } .outcome.sent { color: var(--warn); }
.timeline li.recovery::before { border-radius: 2px; background: var(--warn); } .timeline li.recovery.failure-failed::before, .timeline li.recovery.alert::before, .timeline li.recovery.fence-failed::before, .timeline li.recovery.fence-not_off::before,
.timeline li.recovery.restart-failed::before, .timeline li.recovery.restart-refused::before { background: var(--bad); }
.timeline li.recovery.failure-recovered::before, .timeline li.recovery.restart-started::before { background: var(--ok); }
.kind { font-size: .75rem; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); margin-right: .4rem; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

const SCRIPT = String.raw`
"use strict";
(function () {
  var token = (document.querySelector('meta[name="ballast-csrf"]') || {}).content || null;
  var cache = {};
  var last = null;
  var hist = null;
  var histHosts = {};
  var sparkCache = {};
  var cardCache = {};
  var SVG = "http://www.w3.org/2000/svg";
  var H = 40;

  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = String(v);
      else if (k === "style") Object.assign(el.style, v); // CSSOM: allowed by the CSP, a style attribute is not
      else if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(el, x); }); return; }
    el.appendChild(typeof c === "object" ? c : document.createTextNode(String(c)));
  }
  function svg(tag, attrs) {
    var el = document.createElementNS(SVG, tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== null && attrs[k] !== undefined) el.setAttribute(k, String(attrs[k]));
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function fill(id, key, data, draw) {
    var sig = JSON.stringify(data);
    if (cache[key] === sig) return;
    cache[key] = sig;
    var box = document.getElementById(id);
    var focused = document.activeElement && box.contains(document.activeElement) ? document.activeElement.getAttribute("data-focus-key") : null;
    box.replaceChildren(draw(data));
    if (focused) { var again = box.querySelector('[data-focus-key="' + CSS.escape(focused) + '"]'); if (again) again.focus(); }
  }
  function time(ms) { return ms ? new Date(ms).toLocaleTimeString() : ""; }
  function pct(x) { return (Math.round(x * 10) / 10).toFixed(1) + "%"; }
  function secs(ms) { return ms === null || ms === undefined ? "" : (ms / 1000).toFixed(1) + " s"; }
  function level(v, limit) { return v >= limit ? "bad" : v >= limit * 0.85 ? "warn" : ""; }

  function bar(label, host, value, limit) {
    var v = Math.max(0, Math.min(100, value));
    return h("div", { class: "meter" },
      h("span", { id: "l-" + label + "-" + host, text: label }),
      h("div", { class: "track", role: "meter", "aria-labelledby": "l-" + label + "-" + host + " n-" + host, "aria-valuemin": 0, "aria-valuemax": 100, "aria-valuenow": Math.round(value * 10) / 10, "aria-valuetext": pct(value) + " (threshold " + limit + "%)" },
        h("div", { class: "fill " + level(value, limit), style: { width: v + "%" } }),
        h("div", { class: "limit", style: { left: limit + "%" }, "aria-hidden": "true" })),
      h("span", { class: "num", text: pct(value) }));
  }

  // --- charts (GET /api/history) ---------------------------------------------------------------
  function r2(x) { return Math.round(x * 100) / 100; }
  function duration(ms) { return ms >= 120000 ? Math.round(ms / 60000) + " min" : Math.round(ms / 1000) + " s"; }
  function spanText() { var ms = hist ? hist.windowMs : 3600000; return ms === 3600000 ? "hour" : duration(ms); }
  function stepText() { var s = hist ? hist.stepMs / 1000 : 30; return s >= 60 && s % 60 === 0 ? s / 60 + " min" : s + " s"; }
  function stats(values) {
    var st = { count: 0, now: null, min: null, max: null };
    values.forEach(function (v) {
      if (v === null) return;
      st.count++; st.now = v;
      st.min = st.min === null ? v : Math.min(st.min, v);
      st.max = st.max === null ? v : Math.max(st.max, v);
    });
    return st;
  }
  function yOf(v, top) { return r2(H - Math.max(0, Math.min(v, top)) / top * H); }
  // A line (and the area under it) through the points that are not null; a gap breaks it.
  function paths(values, top) {
    var line = "", area = "", run = [];
    function flush() {
      if (run.length === 0) return;
      // A lone point is drawn as a short dash, so it shows.
      if (run.length === 1) run = [[r2(run[0][0] - 0.4), run[0][1]], [r2(run[0][0] + 0.4), run[0][1]]];
      var pts = run.map(function (p) { return p[0] + " " + p[1]; }).join("L");
      line += "M" + pts;
      area += "M" + run[0][0] + " " + H + "L" + pts + "L" + run[run.length - 1][0] + " " + H + "Z";
      run = [];
    }
    values.forEach(function (v, i) {
      if (v === null) flush();
      else run.push([i + 0.5, yOf(v, top)]);
    });
    flush();
    return { line: line, area: area };
  }
  function lineChart(series, values, top, limit, label, big) {
    var n = Math.max(1, values.length);
    var p = paths(values, top);
    return svg("svg", { class: "chart " + series + (big ? " big" : ""), viewBox: "0 0 " + n + " " + H, preserveAspectRatio: "none", role: "img", "aria-label": label, "data-series": series, "data-points": stats(values).count },
      svg("title", null, label),
      limit === null ? null : svg("line", { class: "threshold", x1: 0, x2: n, y1: yOf(limit, top), y2: yOf(limit, top), "data-value": limit }),
      svg("path", { class: "area", d: p.area }),
      svg("path", { class: "line", d: p.line }));
  }
  function spark(series, name, host, values, limit) {
    var st = stats(values);
    var label = name + " of " + host + " over the last " + spanText() + ": " +
      (st.count ? st.count + " point(s) of " + stepText() + ", now " + pct(st.now) + ", min " + pct(st.min) + ", max " + pct(st.max) : "no data yet") + "; threshold " + limit + "%";
    // Laid out as the bars above it: name, chart, highest value.
    return h("figure", { class: "spark" },
      h("figcaption", null, name, h("span", { class: "when", text: "last " + spanText() })),
      lineChart(series, values, 100, limit, label, false),
      h("span", { class: "num", "aria-hidden": "true" }, st.count ? h("span", { class: "peak", text: "max" }) : null, st.count ? pct(st.max) : h("span", { class: "peak", text: "no data yet" })));
  }
  // Built once per history document and host, then moved into each redrawn card.
  function sparks(host, thresholds) {
    var sig = (hist ? hist.now : 0) + "|" + thresholds.cpu + "|" + thresholds.mem;
    var c = sparkCache[host];
    if (c && c.sig === sig) return c.el;
    var s = histHosts[host] || { cpu: [], mem: [] };
    var el = h("div", { class: "sparks", "data-host": host }, spark("cpu", "CPU", host, s.cpu, thresholds.cpu), spark("mem", "Memory", host, s.mem, thresholds.mem));
    sparkCache[host] = { sig: sig, el: el };
    return el;
  }
  function axis() {
    var ms = hist ? hist.windowMs : 3600000;
    return h("div", { class: "axis", "aria-hidden": "true" }, h("span", { text: duration(ms) + " ago" }), h("span", { text: duration(ms / 2) + " ago" }), h("span", { text: "now" }));
  }
  function sum(a) { return a.reduce(function (x, y) { return x + y; }, 0); }
  function migrationsChart(c, n) {
    var top = 1, i;
    for (i = 0; i < n; i++) top = Math.max(top, c.started[i], c.succeeded[i] + c.failed[i]);
    var parts = [], ticks = "";
    for (i = 0; i < n; i++) {
      var ok = c.succeeded[i], bad = c.failed[i];
      if (ok) parts.push(svg("rect", { class: "bar succeeded", x: i + 0.1, width: 0.8, y: yOf(ok, top), height: r2(ok / top * H), "data-step": i, "data-count": ok }));
      if (bad) parts.push(svg("rect", { class: "bar failed", x: i + 0.1, width: 0.8, y: yOf(ok + bad, top), height: r2(bad / top * H), "data-step": i, "data-count": bad }));
      if (c.started[i]) ticks += "M" + i + " " + yOf(c.started[i], top) + "H" + (i + 1);
    }
    var label = "Migrations per " + stepText() + " over the last " + spanText() + ": started " + sum(c.started) + ", succeeded " + sum(c.succeeded) + ", failed " + sum(c.failed) + "; at most " + top + " in one step";
    return { top: top, el: svg("svg", { class: "chart migrations big", viewBox: "0 0 " + Math.max(1, n) + " " + H, preserveAspectRatio: "none", role: "img", "aria-label": label, "data-series": "migrations" },
      svg("title", null, label), parts, ticks ? svg("path", { class: "started", d: ticks }) : null) };
  }
  function drawTrends(doc) {
    if (!doc) return h("p", { class: "muted", text: "Loading\u2026" });
    var c = doc.cluster;
    var st = stats(c.imbalance);
    var top = Math.max(doc.balanceThreshold * 1.25, (st.max || 0) * 1.1, 1);
    var label = "Cluster imbalance over the last " + spanText() + ", mean of the cycles per " + stepText() + ": " +
      (st.count ? st.count + " point(s), now " + st.now.toFixed(2) + ", min " + st.min.toFixed(2) + ", max " + st.max.toFixed(2) : "no cycle yet") + "; balance threshold " + doc.balanceThreshold;
    var m = migrationsChart(c, doc.points);
    var legend = [["started", c.started, "tick"], ["succeeded", c.succeeded, "succeeded"], ["failed", c.failed, "failed"]].map(function (x) {
      return h("li", { "data-kind": x[0], "data-total": sum(x[1]) }, h("span", { class: "swatch " + x[2], "aria-hidden": "true" }), x[0] + " " + sum(x[1]));
    });
    return h("div", { class: "trends" },
      h("figure", { class: "trend", id: "trend-imbalance" },
        h("figcaption", null, h("strong", { text: "Imbalance" }), h("span", { class: "muted", text: " \u2014 " + (st.count ? "now " + st.now.toFixed(2) + ", max " + st.max.toFixed(2) : "no cycle yet") + " (mean of the cycles per " + stepText() + ")" })),
        lineChart("imbalance", c.imbalance, top, doc.balanceThreshold, label, true),
        axis(),
        h("ul", { class: "legend" },
          h("li", null, h("span", { class: "swatch line", "aria-hidden": "true" }), "weighted std-dev of host loads"),
          h("li", null, h("span", { class: "swatch dashed", "aria-hidden": "true" }), "balance_threshold " + doc.balanceThreshold))),
      h("figure", { class: "trend", id: "trend-migrations" },
        h("figcaption", null, h("strong", { text: "Migrations" }), h("span", { class: "muted", text: " \u2014 per " + stepText() + (sum(c.started) + sum(c.succeeded) + sum(c.failed) ? ", at most " + m.top + " in one step" : ": none in the last " + spanText()) })),
        m.el,
        axis(),
        h("ul", { class: "legend" }, legend)));
  }
  function drawCharts() {
    fill("trends", "trends", hist ? [hist.now, hist.cluster, hist.balanceThreshold] : null, function () { return drawTrends(hist); });
    if (!last) return;
    var cards = document.querySelectorAll("article.host[data-host]");
    for (var i = 0; i < cards.length; i++) {
      var old = cards[i].querySelector(".sparks");
      var next = sparks(cards[i].getAttribute("data-host"), last.thresholds);
      if (old && old !== next) old.replaceWith(next);
    }
  }
  // Every other sample at most (10 s by default: the step now filling keeps up with the bars above
  // it); every sample while a host the state shows has no point yet (a page opened at start-up).
  function nextHistoryIn() {
    if (!hist) return 5000;
    var waiting = !last || last.hosts.some(function (x) { var s = histHosts[x.host]; return !s || s.cpu.every(function (v) { return v === null; }); });
    return Math.min(Math.max(waiting ? hist.sampleMs : Math.min(hist.stepMs, 2 * hist.sampleMs), 500), 30000);
  }
  function loadHistory() {
    fetch("api/history", { credentials: "same-origin" }).then(function (r) { if (!r.ok) throw new Error("HTTP " + r.status); return r.json(); })
      .then(function (doc) {
        hist = doc;
        histHosts = {};
        doc.hosts.forEach(function (x) { histHosts[x.host] = x; });
        drawCharts();
      })
      .catch(function () { /* the next try redraws */ })
      .finally(function () { setTimeout(loadHistory, nextHistoryIn()); });
  }

  // --- banners ----------------------------------------------------------------------------------
  function drawAlerts(m) {
    var out = document.createDocumentFragment();
    if (!m) return out;
    if (m.error !== null) add(out, h("div", { class: "banner", role: "alert", id: "mapping-rejected" },
      h("h2", { text: "host_mapping rejected" }),
      h("p", null, "Rejected" + (m.errorAt ? " at " + time(m.errorAt) : "") + ": ", h("strong", { text: m.error }),
        m.path && m.error.indexOf(m.path) < 0 ? [" (", h("code", { text: m.path }), ")"] : null),
      h("p", { text: (m.loadedAt ? "The mapping read at " + time(m.loadedAt) : "The mapping read before") + " (" + m.hosts + " host(s)) stays in force: hosts missing from it are never chosen as destinations. Fix the file; it is read again when it changes." })));
    if (m.warnings.length) add(out, h("div", { class: "banner warn", role: "status", id: "mapping-warnings" },
      h("h2", { text: "host_mapping: " + m.warningsTotal + " warning(s)" }),
      h("ul", null, m.warnings.map(function (w) { return h("li", { text: w }); })),
      m.warningsTotal > m.warnings.length ? h("p", { class: "muted", text: "and " + (m.warningsTotal - m.warnings.length) + " more: ballast status lists them all." }) : null));
    return out;
  }

  // A host's card is built again only when its figures changed: at 200 hosts most are the same
  // from one push to the next.
  function drawHosts(d) {
    var keepSparks = {}, cards = {};
    d.hosts.forEach(function (x) { if (sparkCache[x.host]) keepSparks[x.host] = sparkCache[x.host]; });
    sparkCache = keepSparks;
    var limits = "|" + d.thresholds.cpu + "|" + d.thresholds.mem;
    var out = d.hosts.length === 0 ? h("p", { class: "muted", text: "No agent has reported yet." }) : h("div", { class: "hosts" }, d.hosts.map(function (x) {
      var sig = JSON.stringify(x) + limits;
      var c = cardCache[x.host];
      var el;
      if (c && c.sig === sig) {
        el = c.el;
        var old = el.querySelector(".sparks"), cur = sparks(x.host, d.thresholds);
        if (old !== cur) old.replaceWith(cur);
      } else el = hostCard(x, d);
      cards[x.host] = { sig: sig, el: el };
      return el;
    }));
    cardCache = cards;
    return out;
  }

  function hostCard(x, d) {
    var running = x.vms.filter(function (v) { return v.state === "running"; }).length;
    return h("article", { class: "host" + (x.failure ? " " + x.failure : ""), "data-host": x.host, "aria-labelledby": "n-" + x.host },
      h("header", null,
        h("h3", { id: "n-" + x.host, text: x.host }),
        h("span", null,
          x.maintenance ? h("span", { class: "badge maint", text: "maintenance" }) : null, " ",
          // Host failure first: failed, fenced, recovering, recovered, agent down say more than stale.
          x.failure ? h("span", { class: "badge failure " + x.failure, "data-failure": x.failure, title: FAILURE_TIPS[x.failure] || null, text: x.failure === "agent_down" ? "agent down" : x.failure }) :
          // Off, booting or shutting down (power management): a silent agent is expected, not stale.
          x.power === "off" || x.power === "booting" || x.power === "shutting_down" ? h("span", { class: "badge power", text: x.power === "shutting_down" ? "shutting down" : x.power }) :
          x.fresh ? null : h("span", { class: "badge stale", text: "stale" }), " ",
          x.powerFailed ? h("span", { class: "badge bad", title: x.powerFailed, text: "power failed" }) : null, " ",
          x.collectOk ? null : h("span", { class: "badge bad", text: "collect failing" }))),
      h("div", { class: "muted", text: x.cpus + " CPUs, " + Math.round(x.memTotalMiB / 1024) + " GiB, " + running + " of " + x.vms.length + " VMs running" }),
      bar("CPU", x.host, x.cpuPercent, d.thresholds.cpu),
      bar("Memory", x.host, x.memPercent, d.thresholds.mem),
      sparks(x.host, d.thresholds),
      x.vms.length === 0 ? h("p", { class: "muted", text: "No VMs." }) :
        h("ul", { class: "vms", "aria-label": "VMs on " + x.host }, x.vms.map(function (v) {
          var cls = (v.migrating ? "migrating " : "") + (v.state !== "running" ? "off" : "");
          var tip = v.state + (v.cpuPercent === null ? "" : ", CPU " + Math.round(v.cpuPercent) + "% of a core") + ", " + Math.round(v.memMiB) + " MiB" + (v.migrating ? ", migrating" : "");
          return h("li", { class: cls, "data-vm": v.name, title: tip }, v.name, v.migrating ? h("span", { class: "sr-only", text: " (migrating)" }) : null);
        })));
  }

  function drawMigrations(m) {
    var rows = m.ongoing.concat(m.queued);
    if (rows.length === 0) return h("p", { class: "muted", id: "no-migrations", text: "No migration running or queued." });
    return h("table", null,
      h("caption", { class: "sr-only", text: "Migrations in flight" }),
      h("thead", null, h("tr", null, ["VM", "From", "To", "State", "Progress", "Why"].map(function (t) { return h("th", { scope: "col", text: t }); }))),
      h("tbody", null, rows.map(function (r) {
        var p = r.progress === null ? null : Math.round(r.progress);
        return h("tr", { class: "migration", "data-request-id": r.requestId, "data-vm": r.vm },
          h("td", { class: "nw", text: r.vm }), h("td", { class: "nw", text: r.source }), h("td", { class: "nw", text: r.destination }),
          h("td", { class: "state", text: r.state === "PENDING" ? "queued" : "migrating" }),
          h("td", null, r.state === "PENDING" ? "" : h("progress", { max: 100, value: p === null ? null : p, "aria-label": "Progress of " + r.vm }), " ", p === null ? "" : p + "%"),
          h("td", { text: r.reason }));
      })));
  }

  function movesTable(p) {
    return h("table", null,
      h("thead", null, h("tr", null, ["#", "VM", "From", "To", "Reason", "Rules broken"].map(function (t) { return h("th", { scope: "col", text: t }); }))),
      h("tbody", null, p.moves.map(function (m) {
        return h("tr", { "data-vm": m.vm },
          h("td", { class: "nw", text: m.seq + 1 }), h("td", { class: "nw", text: m.vm }), h("td", { class: "nw", text: m.source }), h("td", { class: "nw", text: m.destination }),
          h("td", { text: m.reason }),
          h("td", { class: m.brokenShouldRules.length ? "rules" : "muted", text: m.brokenShouldRules.length ? m.brokenShouldRules.join(", ") : "none" }));
      })));
  }

  function decisionsList(p) {
    if (p.decisions.length === 0) return h("p", { class: "muted", text: "No other decisions." });
    return h("details", null,
      h("summary", { text: "Why not the others: " + p.decisionsTotal + " decision(s)" + (p.decisionsTotal > p.decisions.length ? ", first " + p.decisions.length + " shown" : "") }),
      h("table", null,
        h("thead", null, h("tr", null, ["Subject", "Code", "Reason"].map(function (t) { return h("th", { scope: "col", text: t }); }))),
        h("tbody", null, p.decisions.map(function (x) {
          return h("tr", null, h("td", { text: x.subject + (x.vm && x.vm !== x.subject ? " (for " + x.vm + ")" : "") }), h("td", { text: x.code }), h("td", { text: x.message }));
        }))));
  }

  function drawPending(d) {
    var box = h("div", null);
    if (d.pendingPlans.length === 0) add(box, h("p", { class: "muted", id: "no-pending", text: "No plan waiting for approval." + (d.automation === "full" ? " (Automation is full: plans are applied by themselves.)" : "") }));
    if (!d.actionsAllowed && d.pendingPlans.length) add(box, h("p", { class: "muted", text: "This dashboard is read-only (http.allow_actions is off); approve with: ballast approve PLAN_ID" }));
    var older = d.pendingPlans.length > 1 ? h("details", null, h("summary", { text: (d.pendingPlans.length - 1) + " older pending plan(s)" })) : null;
    d.pendingPlans.forEach(function (p, i) {
      var hid = "plan-" + p.id;
      add(i === 0 ? box : older, h("article", { class: "plan", "data-plan-id": p.id, "aria-labelledby": hid },
        h("div", { class: "plan-head" },
          h("h3", { id: hid, text: "Plan " + p.id }),
          h("span", { class: "muted", text: p.mode + ", " + p.moves.length + " move(s), made " + time(p.createdAt) + (p.expiresAt ? ", expires " + time(p.expiresAt) : "") }),
          h("button", { type: "button", "data-approve": p.id, "data-focus-key": "approve-" + p.id, disabled: !d.actionsAllowed || d.paused, "aria-describedby": hid, onclick: function () { approve(p.id, this); } }, "Approve")),
        movesTable(p),
        decisionsList(p)));
    });
    add(box, older);
    return box;
  }

  function drawViolations(v) {
    if (v.length === 0) return h("p", { class: "muted", text: "No should-rule is broken by the latest or pending plans." });
    return h("ul", null, v.map(function (x) {
      return h("li", { class: "rules" }, x.vm + " " + x.source + " \u2192 " + x.destination + " (plan " + x.planId + ") breaks: " + x.rules.join(", "));
    }));
  }

  function drawLastPlan(d) {
    var p = d.lastPlan;
    if (!p) return h("p", { class: "muted", text: "No cycle has run yet." });
    return h("div", null,
      h("p", null, "Cycle " + d.cycle + ", plan " + p.id + " (" + p.mode + ") at " + time(p.createdAt) + ": " + (p.moves.length ? p.moves.length + " move(s)" : "no move") +
        ". Imbalance " + p.indicators.imbalanceBefore.toFixed(1) + " \u2192 " + p.indicators.imbalanceAfter.toFixed(1) + ", overloaded hosts " + p.indicators.overloadedBefore + " \u2192 " + p.indicators.overloadedAfter + "."),
      p.moves.length ? movesTable(p) : null,
      decisionsList(p));
  }

  var FAILURE_TIPS = {
    agent_down: "its agent is silent but its libvirt answers a peer: nothing is restarted",
    suspect: "silent, not (yet) judged failed",
    failed: "judged failed: to be fenced before its VMs are restarted elsewhere",
    fenced: "known to be off: its VMs may be restarted elsewhere",
    recovering: "its VMs are being restarted elsewhere",
    recovered: "every VM that could be restarted was"
  };
  var CHANGE_TEXT = {
    failed: "failed: agent silent, peers cannot reach its libvirt, BMC not on",
    fenced: "fenced: known to be off",
    recovering: "recovering: its VMs are being restarted elsewhere",
    recovered: "recovered: every VM that could be restarted was",
    returned: "returned: reports again after it was fenced",
    cleared: "cleared: reports again before it was fenced"
  };
  function attemptText(a) {
    return (a.by === "operator" ? "confirmed off by " + (a.operator || "an operator") : "hard power-off: " + a.result + (a.readBackAt ? " (read back " + time(a.readBackAt) + ")" : "")) + (a.error ? ": " + a.error : "");
  }
  function drawRecovery(r) {
    if (r.incidents.length === 0 && r.restarts.length === 0 && r.waiting.length === 0 && r.alerts.length === 0 && !r.paused)
      return h("p", { class: "muted", id: "no-recovery", text: "No host failure." });
    var box = h("div", { class: "recovery" });
    if (r.paused) add(box, h("p", { class: "rules", id: "recovery-paused", role: "alert", text: "Recovery is paused: " + Math.round(r.silentShare * 100) + " % of the hosts went silent at once (the orchestrator may be cut off)." }));
    add(box, [h("h3", { text: "Open incidents" }), r.incidents.length === 0 ? h("p", { class: "muted", text: "None." }) :
      h("table", null,
        h("thead", null, h("tr", null, ["Host", "State", "Since", "Failed at", "Fence", "Why"].map(function (t) { return h("th", { scope: "col", text: t }); }))),
        h("tbody", null, r.incidents.map(function (x) {
          return h("tr", { class: "incident", "data-host": x.host, "data-state": x.state },
            h("td", { class: "nw", text: x.host }),
            h("td", { class: "nw" }, h("span", { class: "badge failure " + x.state, text: x.state === "agent_down" ? "agent down" : x.state })),
            h("td", { class: "nw", text: time(x.since) }),
            h("td", { class: "nw", text: time(x.failedAt) }),
            h("td", { class: "fence" }, x.fence ? x.fence.code + (x.fence.fencedBy ? " by " + x.fence.fencedBy : "") : "-",
              x.attempts.length ? h("ul", { class: "attempts" }, x.attempts.map(function (a) { return h("li", { class: "attempt", "data-by": a.by, "data-result": a.result }, h("time", { text: time(a.at) }), " ", attemptText(a)); })) : null),
            h("td", { text: (x.fence && x.fence.next === "alert" ? x.fence.reason : x.reason) || "" }));
        })))]);
    if (r.restarts.length) add(box, [h("h3", { text: "Restarts" + (r.restartsTotal > r.restarts.length ? " (newest " + r.restarts.length + " of " + r.restartsTotal + ")" : "") }),
      h("table", null,
        h("thead", null, h("tr", null, ["VM", "From", "To", "Recorded", "Epoch", "Outcome", "Up", "Detail"].map(function (t) { return h("th", { scope: "col", text: t }); }))),
        h("tbody", null, r.restarts.map(function (x) {
          return h("tr", { class: "restart", "data-vm": x.vm, "data-outcome": x.outcome },
            h("td", { class: "nw", text: x.vm }), h("td", { class: "nw", text: x.from }), h("td", { class: "nw", text: x.destination }),
            h("td", { class: "nw", text: time(x.at) }), h("td", { text: x.epoch }),
            h("td", { class: "nw outcome " + x.outcome, text: x.outcome + (x.tries > 1 ? " (" + x.tries + " tries)" : "") }),
            h("td", { class: "nw up", text: x.upAt === null ? "" : "after " + Math.round((x.upAt - x.at) / 1000) + " s" }),
            h("td", { text: x.detail || "" }));
        })))]);
    if (r.waiting.length) add(box, [h("h3", { text: "VMs waiting" + (r.waitingTotal > r.waiting.length ? " (" + r.waiting.length + " of " + r.waitingTotal + ")" : "") }),
      h("ul", null, r.waiting.map(function (w) {
        return h("li", { class: "waiting", "data-vm": w.vm, "data-code": w.code }, h("strong", { text: w.vm }), " (" + (w.priority || "no record") + ") from " + w.host + ": " + w.code + ": " + w.reason);
      }))]);
    if (r.alerts.length) add(box, [h("h3", { text: "Alerts" }),
      h("ul", null, r.alerts.map(function (a) {
        return h("li", { class: "alert rules", "data-alert": a.alert, "data-host": a.host || "" }, h("time", { text: time(a.at) }), " ", h("strong", { text: a.alert }), " " + (a.host || "") + ": " + a.message);
      }))]);
    return box;
  }
  function recoveryItem(e) {
    var cls = "history recovery " + e.kind + (e.kind === "failure" ? " failure-" + e.state : e.kind === "restart" ? " restart-" + e.restart.outcome : e.kind === "fence" ? " fence-" + e.attempt.result : "");
    var body;
    if (e.kind === "failure") body = [h("strong", { text: e.host }), " " + CHANGE_TEXT[e.state]];
    else if (e.kind === "fence") body = [h("strong", { text: e.host }), " " + attemptText(e.attempt)];
    else if (e.kind === "restart") body = [h("strong", { text: e.vm }), " restarted " + e.host + " \u2192 " + e.restart.restart.destination + ": ", h("span", { class: "outcome " + e.restart.outcome, text: e.restart.outcome }), e.restart.detail ? " (" + e.restart.detail + ")" : ""];
    else body = [h("strong", { text: e.alert }), " " + (e.host ? e.host + ": " : "") + e.message];
    return h("li", { class: cls, "data-kind": e.kind, "data-host": e.host || "", "data-vm": e.vm || null, "data-state": e.kind === "failure" ? e.state : null },
      h("time", { datetime: new Date(e.at).toISOString(), text: time(e.at) }), h("span", { class: "kind", text: e.kind }), body);
  }
  function drawHistory(d) {
    var hist = d.history, rec = d.recoveryHistory || [];
    if (hist.length === 0 && rec.length === 0) return h("p", { class: "muted", id: "no-history", text: "No migration has finished and no host has failed yet." });
    // Both lists come newest first; merged by time (a migration by when it ended).
    var items = hist.map(function (r) { return { at: r.finishedAt || r.queuedAt, m: r }; }).concat(rec.map(function (e) { return { at: e.at, e: e }; }));
    items.sort(function (a, b) { return b.at - a.at; });
    items = items.slice(0, Math.max(hist.length, rec.length));
    return h("ol", { class: "timeline", reversed: true }, items.map(function (it) { return it.e ? recoveryItem(it.e) : migrationItem(it.m); }));
  }
  function migrationItem(r) {
    var st = r.state.toLowerCase();
    var extra = r.state === "SUCCEEDED" ? (r.durationMs !== null ? " in " + secs(r.durationMs) : "") + (r.downtimeMs !== null ? ", downtime " + r.downtimeMs + " ms" : "") : (r.error ? ": " + r.error : "");
    return h("li", { class: "history " + st, "data-request-id": r.requestId, "data-vm": r.vm },
      h("time", { datetime: new Date(r.finishedAt || r.queuedAt).toISOString(), text: time(r.finishedAt || r.queuedAt) }),
      h("strong", { text: r.vm }), " " + r.source + " \u2192 " + r.destination + " ",
      h("span", { class: "state " + st, text: st }), extra,
      h("div", { class: "muted", text: r.strategy + ": " + r.reason }));
  }

  function render(d) {
    last = d;
    fill("summary", "summary", [d.automation, d.paused, d.pausedReason, d.cycle, d.leader, d.version, d.hosts.length], function () {
      return h("ul", { class: "summary" },
        h("li", null, "automation: ", h("strong", { text: d.automation })),
        h("li", null, d.paused ? h("strong", { class: "rules", text: "paused" + (d.pausedReason ? " (" + d.pausedReason + ")" : "") }) : "running"),
        h("li", { text: "cycle " + d.cycle }),
        h("li", { text: d.hosts.length + " host(s)" }),
        d.leader ? null : h("li", { text: "standby" }),
        h("li", { text: "v" + d.version }));
    });
    fill("alerts", "alerts", d.hostMapping || null, drawAlerts);
    fill("hosts", "hosts", [d.hosts, d.thresholds], function () { return drawHosts(d); });
    fill("migrations", "migrations", d.migrations, drawMigrations);
    fill("pending", "pending", [d.pendingPlans, d.actionsAllowed, d.paused, d.automation], function () { return drawPending(d); });
    fill("violations", "violations", d.violations, drawViolations);
    fill("lastplan", "lastplan", [d.lastPlan, d.cycle], function () { return drawLastPlan(d); });
    fill("recovery", "recovery", d.recovery, drawRecovery);
    fill("history", "history", [d.history, d.recoveryHistory], function () { return drawHistory(d); });
  }

  function notice(text, error) {
    var n = document.getElementById("notice");
    n.textContent = text;
    n.className = error ? "error" : "";
  }

  function approve(id, button) {
    if (!token) { notice("This dashboard is read-only.", true); return; }
    button.disabled = true;
    notice("Approving plan " + id + "\u2026");
    fetch("api/approve", { method: "POST", credentials: "same-origin", headers: { "Content-Type": "application/json", "X-Ballast-CSRF": token }, body: JSON.stringify({ planId: id }) })
      .then(function (r) { return r.json(); })
      .then(function (r) {
        if (r.ok) notice("Plan " + id + " approved: " + r.data.queued + " migration(s) queued.");
        else { notice("Plan " + id + " not approved: " + r.error.code + ": " + r.error.message, true); button.disabled = false; }
      })
      .catch(function (e) { notice("Plan " + id + ": " + e, true); button.disabled = false; });
  }

  function connState(live, text) {
    var c = document.getElementById("conn");
    c.className = "conn " + (live ? "live" : "down");
    c.textContent = text;
  }

  function poll() {
    fetch("api/state", { credentials: "same-origin" }).then(function (r) { return r.json(); })
      .then(function (d) { render(d); connState(true, "polling"); })
      .catch(function () { connState(false, "no connection"); })
      .finally(function () { setTimeout(poll, 2000); });
  }

  if (window.EventSource) {
    var es = new EventSource("api/events");
    es.addEventListener("state", function (e) { render(JSON.parse(e.data)); connState(true, "live"); });
    es.onerror = function () { connState(false, "reconnecting\u2026"); };
  } else poll();
  loadHistory();
  window.ballastDashboard = { last: function () { return last; }, history: function () { return hist; } };
})();
`;

function escapeAttr(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/"/g, "&quot;").replace(/</g, "&lt;");
}

/** The page; `csrfToken` is null when actions are off (the Approve buttons are then disabled). */
export function dashboardPage(o: { nonce: string; csrfToken: string | null }): string {
  const n = escapeAttr(o.nonce);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<link rel="icon" href="data:,">
${o.csrfToken ? `<meta name="ballast-csrf" content="${escapeAttr(o.csrfToken)}">\n` : ""}<title>Ballast dashboard</title>
<style nonce="${n}">${CSS}</style>
</head>
<body>
<header>
  <h1>Ballast</h1>
  <div id="summary" aria-label="Orchestrator status"></div>
  <span id="conn" class="conn down" role="status">connecting…</span>
</header>
<main>
  <div id="alerts"></div>
  <section aria-labelledby="h-trends"><h2 id="h-trends">Cluster over time</h2><div id="trends"><p class="muted">Loading…</p></div></section>
  <section aria-labelledby="h-hosts"><h2 id="h-hosts">Hosts</h2><div id="hosts"><p class="muted">Loading…</p></div></section>
  <section aria-labelledby="h-recovery"><h2 id="h-recovery">Host failures</h2><div id="recovery" aria-live="polite"></div></section>
  <section aria-labelledby="h-migrations"><h2 id="h-migrations">Migrations in flight</h2><div id="migrations" aria-live="polite"></div></section>
  <section aria-labelledby="h-pending"><h2 id="h-pending">Pending plans</h2><p id="notice" role="status" aria-live="polite"></p><div id="pending"></div></section>
  <div class="cols">
    <section aria-labelledby="h-lastplan"><h2 id="h-lastplan">Latest cycle: decisions and reasons</h2><div id="lastplan"></div></section>
    <section aria-labelledby="h-violations"><h2 id="h-violations">Rule violations</h2><div id="violations"></div></section>
  </div>
  <section aria-labelledby="h-history"><h2 id="h-history">History</h2><div id="history"></div></section>
</main>
<noscript><p>The dashboard needs JavaScript; the same data is at <a href="api/state">api/state</a>.</p></noscript>
<script nonce="${n}">${SCRIPT}</script>
</body>
</html>
`;
}
