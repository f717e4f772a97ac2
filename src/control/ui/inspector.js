// The sandbank inspector: polls the control API (GET timeline, clock, ledger, faults) and
// draws what the channels and banks did. Plain DOM, no framework; every call goes to the
// same origin, with the control token when the server asks for one (kept in this tab only).
"use strict";

const API = "/_sandbank/";
const MAX_STEPS = 5000;            // steps kept on the page; older ones are dropped
const POLL_MS = 1000;

const state = { gen: 0, cursor: null, steps: [], lanes: [], reference: "", selected: null, lastSeq: -1 };
const $ = id => document.getElementById(id);

async function api(path, init) {
  init = init || {};
  const headers = Object.assign({}, init.headers || {});
  const token = sessionStorage.getItem("sandbank-token");
  if (token) headers["x-sandbank-token"] = token;
  const r = await fetch(API + path, Object.assign({}, init, { headers }));
  if (r.status === 401) {
    $("token-box").hidden = false;
    throw new Error("the control API needs a token (sandbank serve --control-token)");
  }
  return r;
}

async function json(path, init) {
  const r = await api(path, init);
  const v = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(v.error || `${r.status} ${r.statusText}`);
  return v;
}

function say(text, bad) {
  const s = $("status");
  s.textContent = text;
  s.className = bad ? "bad" : "";
}

// ---- timeline -------------------------------------------------------------------------

function timelineQuery(extra) {
  const q = new URLSearchParams(extra);
  if (state.reference) q.set("reference", state.reference);
  return "timeline?" + q.toString();
}

// New steps since the cursor (the latest page first, then forward pages).
async function pollTimeline() {
  let changed = false;
  const gen = state.gen;
  const fresh = () => gen === state.gen;   // false once the filter changed meanwhile
  if (state.cursor === null) {
    const t = await json(timelineQuery({ limit: 1000 }));
    if (!fresh()) return false;
    state.lanes = t.lanes;
    state.steps = t.steps;
    state.cursor = t.steps.length ? t.steps[t.steps.length - 1].seq : 0;
    changed = true;
  }
  for (;;) {
    const t = await json(timelineQuery({ after: state.cursor, limit: 1000 }));
    if (!fresh()) return false;
    state.lanes = t.lanes;
    if (t.steps.length) {
      state.steps.push(...t.steps);
      state.cursor = t.steps[t.steps.length - 1].seq;
      changed = true;
    }
    state.lastSeq = t.last_seq;
    if (t.next === null) break;
  }
  if (state.steps.length > MAX_STEPS) state.steps.splice(0, state.steps.length - MAX_STEPS);
  if (changed) drawTimeline();
  return changed;
}

function drawTimeline() {
  const t = { reference: state.reference || null, lanes: state.lanes, steps: state.steps };
  SandbankTimeline.draw($("diagram"), t, { onSelect: select, allLanes: true });
  $("count").textContent = `${state.steps.length} steps`;
  drawReferences();
}

function select(step) {
  state.selected = step;
  const box = $("details");
  box.textContent = "";
  box.appendChild(SandbankTimeline.details(step));
  if (step.reference) {
    const b = document.createElement("button");
    b.textContent = `only ${step.reference}`;
    b.onclick = () => setReference(step.reference);
    box.appendChild(b);
  }
}

function drawReferences() {
  const seen = new Map();
  for (const s of state.steps) if (s.reference && !seen.has(s.reference)) seen.set(s.reference, s.instance);
  const ul = $("references");
  ul.textContent = "";
  for (const [ref, inst] of seen) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = "#";
    a.textContent = `${ref} (${inst})`;
    a.dataset.reference = ref;
    a.onclick = ev => { ev.preventDefault(); setReference(ref); };
    li.appendChild(a);
    ul.appendChild(li);
  }
}

function setReference(ref) {
  state.gen += 1;
  state.reference = ref;
  $("reference").value = ref;
  state.cursor = null;
  state.steps = [];
  busy = false;
  refresh();
}

async function download(format) {
  const r = await api(timelineQuery({ format, limit: 10000 }));
  const blob = await r.blob();
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = `sandbank-timeline${state.reference ? "-" + state.reference : ""}.${format === "json" ? "json" : "mmd"}`;
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

// ---- clock ----------------------------------------------------------------------------

async function drawClock() {
  const c = await json("clock");
  $("now").textContent = `${c.now_local} Beijing`;
  $("clock-mode").textContent = `${c.mode} clock, ${c.pending_timers} timers pending`;
  if (!$("statement-date").value) $("statement-date").value = c.now_local.slice(0, 10);
}

async function moveClock(body) {
  say("moving the clock…");
  try {
    const v = await json("clock", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    say(`clock at ${v.now_local}; ${v.fired} timers fired`);
    await refresh();
  } catch (e) { say(`clock: ${e.message}`, true); }
}

// ---- ledger and faults ----------------------------------------------------------------

async function drawLedger() {
  const v = await json("ledger?postings=none");
  const tb = $("balances");
  tb.textContent = "";
  for (const b of v.balances) {
    const tr = tb.insertRow();
    tr.insertCell().textContent = b.account;
    const c = tr.insertCell();
    c.textContent = `${b.balance} ${b.currency}`;
    c.className = "num";
  }
}

async function drawFaults() {
  const v = await json("faults");
  const ul = $("faults");
  ul.textContent = "";
  for (const r of v.rules) {
    const li = document.createElement("li");
    const code = document.createElement("code");
    const { id, ...rest } = r;
    code.textContent = `${id}: ${JSON.stringify(rest)}`;
    const del = document.createElement("button");
    del.textContent = "remove";
    del.onclick = async () => {
      try { await json(`faults/${encodeURIComponent(id)}`, { method: "DELETE" }); drawFaults(); }
      catch (e) { say(`remove ${id}: ${e.message}`, true); }
    };
    li.append(code, " ", del);
    ul.appendChild(li);
  }
  if (!v.rules.length) ul.textContent = "no fault rules";
}

async function addFault(ev) {
  ev.preventDefault();
  try {
    const r = await json("faults", { method: "POST", headers: { "content-type": "application/json" }, body: $("fault-rule").value });
    say(`fault rule ${r.id} added`);
    drawFaults();
  } catch (e) { say(`fault rule: ${e.message}`, true); }
}

// ---- statements -----------------------------------------------------------------------

function statementPath() {
  const inst = $("statement-instance").value, day = $("statement-date").value;
  const format = $("statement-format").value;
  return `statements/${encodeURIComponent(inst)}/${encodeURIComponent(day)}` + (format ? `?format=${encodeURIComponent(format)}` : "");
}

async function previewStatement(ev) {
  ev.preventDefault();
  const pre = $("statement-text"), list = $("expected");
  pre.textContent = "";
  list.textContent = "";
  try {
    const day = $("statement-date").value, inst = $("statement-instance").value;
    const exp = await json(`statements/expected?date=${encodeURIComponent(day)}&instance=${encodeURIComponent(inst)}`);
    for (const d of exp.expected) {
      const li = document.createElement("li");
      li.textContent = `${d.kind} ${d.reference || "(the file)"} — ${d.mismatch}: ${d.cause}`;
      list.appendChild(li);
    }
    if (!exp.expected.length) list.textContent = "no injected mismatches on this day";
    const r = await api(statementPath());
    const type = r.headers.get("content-type") || "";
    if (!r.ok) {
      const v = await r.json().catch(() => ({}));
      pre.textContent = `${r.status}: ${v.error || ""}${v.available_at ? " (available at " + v.available_at + ")" : ""}`;
      return;
    }
    if (/zip|gzip|octet-stream/.test(type)) {
      pre.textContent = `(${type}: a binary file; download it)`;
      return;
    }
    const text = await r.text();
    const refs = exp.expected.map(d => d.reference).filter(Boolean);
    for (const line of text.split(/\r?\n/)) {
      const span = document.createElement("span");
      span.textContent = line + "\n";
      if (refs.some(ref => line.includes(ref))) span.className = "mismatch";
      pre.appendChild(span);
    }
  } catch (e) { pre.textContent = e.message; }
}

async function downloadStatement() {
  const r = await api(statementPath());
  if (!r.ok) { say(`statement: ${r.status}`, true); return; }
  const name = (r.headers.get("content-disposition") || "").match(/filename="?([^";]+)/);
  const a = document.createElement("a");
  a.href = URL.createObjectURL(await r.blob());
  a.download = name ? name[1] : statementPath().replace(/[^A-Za-z0-9.-]+/g, "_");
  a.click();
  setTimeout(() => URL.revokeObjectURL(a.href), 1000);
}

function fillInstances() {
  const sel = $("statement-instance");
  if (sel.options.length) return;
  for (const l of state.lanes.filter(l => l.role === "channel" || l.role === "bank")) {
    sel.add(new Option(l.label, l.id));
  }
}

// ---- the loop -------------------------------------------------------------------------

let busy = false;
async function refresh() {
  if (busy) return;
  busy = true;
  try {
    const changed = await pollTimeline();
    await drawClock();
    fillInstances();
    if (changed || !$("balances").rows.length) await Promise.all([drawLedger(), drawFaults()]);
    document.body.dataset.ready = "true";
    if ($("status").className === "bad" && changed) say("");
  } catch (e) {
    say(e.message, true);
  } finally {
    busy = false;
  }
}

function tabs() {
  for (const b of document.querySelectorAll("nav.tabs button")) {
    b.onclick = () => {
      for (const o of document.querySelectorAll("nav.tabs button")) o.classList.toggle("on", o === b);
      for (const p of document.querySelectorAll(".panel")) p.hidden = p.id !== b.dataset.panel;
    };
  }
}

window.addEventListener("DOMContentLoaded", () => {
  tabs();
  for (const b of document.querySelectorAll("[data-advance]")) b.onclick = () => moveClock({ advance: b.dataset.advance });
  $("clock-to").onsubmit = ev => { ev.preventDefault(); moveClock({ to: $("clock-to-value").value }); };
  $("filter").onsubmit = ev => { ev.preventDefault(); setReference($("reference").value.trim()); };
  $("all").onclick = () => setReference("");
  $("export-mermaid").onclick = () => download("mermaid");
  $("export-json").onclick = () => download("json");
  $("fault-form").onsubmit = addFault;
  $("statement-form").onsubmit = previewStatement;
  $("statement-download").onclick = downloadStatement;
  $("token-form").onsubmit = ev => {
    ev.preventDefault();
    sessionStorage.setItem("sandbank-token", $("token").value);
    $("token-box").hidden = true;
    refresh();
  };
  refresh();
  setInterval(refresh, POLL_MS);
});
