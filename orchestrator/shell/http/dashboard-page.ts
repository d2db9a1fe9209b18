// The dashboard: one self-contained HTML page (no external assets, no build step), plain JS and
// CSS inline under a per-response CSP nonce. It draws GET /api/state and redraws on every
// `state` event of GET /api/events (falling back to polling). Everything from the cluster is put
// in the DOM as text (textContent), never as HTML.
// The script below is kept free of backticks and "${" because it lives in a template string.

const CSS = String.raw`
:root { color-scheme: light dark; --bg: #f6f7f9; --card: #fff; --fg: #1b1f24; --muted: #5b6470; --line: #d8dde3;
  --ok: #2e7d32; --warn: #b26a00; --bad: #c62828; --accent: #1565c0; --track: #e3e7ec; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171b; --card: #1d2126; --fg: #e6e9ed; --muted: #9aa4af; --line: #323840;
  --ok: #66bb6a; --warn: #ffb74d; --bad: #ef5350; --accent: #64b5f6; --track: #2b3138; } }
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
.badge.stale, .badge.bad { color: var(--bad); } .badge.maint { color: var(--warn); } .badge.ok { color: var(--ok); }
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
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

const SCRIPT = String.raw`
"use strict";
(function () {
  var token = (document.querySelector('meta[name="ballast-csrf"]') || {}).content || null;
  var cache = {};
  var last = null;

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

  function drawHosts(d) {
    if (d.hosts.length === 0) return h("p", { class: "muted", text: "No agent has reported yet." });
    return h("div", { class: "hosts" }, d.hosts.map(function (x) {
      var running = x.vms.filter(function (v) { return v.state === "running"; }).length;
      return h("article", { class: "host", "data-host": x.host, "aria-labelledby": "n-" + x.host },
        h("header", null,
          h("h3", { id: "n-" + x.host, text: x.host }),
          h("span", null,
            x.maintenance ? h("span", { class: "badge maint", text: "maintenance" }) : null, " ",
            x.fresh ? null : h("span", { class: "badge stale", text: "stale" }), " ",
            x.collectOk ? null : h("span", { class: "badge bad", text: "collect failing" }))),
        h("div", { class: "muted", text: x.cpus + " CPUs, " + Math.round(x.memTotalMiB / 1024) + " GiB, " + running + " of " + x.vms.length + " VMs running" }),
        bar("CPU", x.host, x.cpuPercent, d.thresholds.cpu),
        bar("Memory", x.host, x.memPercent, d.thresholds.mem),
        x.vms.length === 0 ? h("p", { class: "muted", text: "No VMs." }) :
          h("ul", { class: "vms", "aria-label": "VMs on " + x.host }, x.vms.map(function (v) {
            var cls = (v.migrating ? "migrating " : "") + (v.state !== "running" ? "off" : "");
            var tip = v.state + (v.cpuPercent === null ? "" : ", CPU " + Math.round(v.cpuPercent) + "% of a core") + ", " + Math.round(v.memMiB) + " MiB" + (v.migrating ? ", migrating" : "");
            return h("li", { class: cls, "data-vm": v.name, title: tip }, v.name, v.migrating ? h("span", { class: "sr-only", text: " (migrating)" }) : null);
          })));
    }));
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

  function drawHistory(hist) {
    if (hist.length === 0) return h("p", { class: "muted", id: "no-history", text: "No migration has finished yet." });
    return h("ol", { class: "timeline", reversed: true }, hist.map(function (r) {
      var st = r.state.toLowerCase();
      var extra = r.state === "SUCCEEDED" ? (r.durationMs !== null ? " in " + secs(r.durationMs) : "") + (r.downtimeMs !== null ? ", downtime " + r.downtimeMs + " ms" : "") : (r.error ? ": " + r.error : "");
      return h("li", { class: "history " + st, "data-request-id": r.requestId, "data-vm": r.vm },
        h("time", { datetime: new Date(r.finishedAt || r.queuedAt).toISOString(), text: time(r.finishedAt || r.queuedAt) }),
        h("strong", { text: r.vm }), " " + r.source + " \u2192 " + r.destination + " ",
        h("span", { class: "state " + st, text: st }), extra,
        h("div", { class: "muted", text: r.strategy + ": " + r.reason }));
    }));
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
    fill("hosts", "hosts", [d.hosts, d.thresholds], function () { return drawHosts(d); });
    fill("migrations", "migrations", d.migrations, drawMigrations);
    fill("pending", "pending", [d.pendingPlans, d.actionsAllowed, d.paused, d.automation], function () { return drawPending(d); });
    fill("violations", "violations", d.violations, drawViolations);
    fill("lastplan", "lastplan", [d.lastPlan, d.cycle], function () { return drawLastPlan(d); });
    fill("history", "history", d.history, drawHistory);
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
  window.ballastDashboard = { last: function () { return last; } };
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
  <section aria-labelledby="h-hosts"><h2 id="h-hosts">Hosts</h2><div id="hosts"><p class="muted">Loading…</p></div></section>
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
