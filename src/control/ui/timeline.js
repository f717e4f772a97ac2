// sandbank's sequence diagram: draws a timeline (GET /_sandbank/timeline, or the JSON a
// failure report embeds) as SVG, one lane per party. Shared by the inspector page and the
// conformance failure reports; no dependencies.
"use strict";

const SandbankTimeline = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const LANE_W = 230, ROW_H = 34, TOP = 44, LEFT = 150;

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // Lanes the steps use (always the settlement system), in lane order; `all` keeps every lane.
  function usedLanes(t, all) {
    if (all) return t.lanes;
    const used = new Set(["merchant"]);
    for (const s of t.steps) for (const id of [s.from, s.to, ...(s.over || [])]) if (id) used.add(id);
    return t.lanes.filter(l => used.has(l.id));
  }

  // Draw `t` into `box` (emptied first). `onSelect(step)` is called when a step is clicked.
  // `highlight(step)` may return true to mark a step. Returns the SVG element.
  function draw(box, t, opts) {
    opts = opts || {};
    box.textContent = "";
    const lanes = usedLanes(t, opts.allLanes);
    const x = new Map(lanes.map((l, i) => [l.id, LEFT + i * LANE_W + LANE_W / 2]));
    const width = LEFT + lanes.length * LANE_W + 10;
    const height = TOP + Math.max(1, t.steps.length) * ROW_H + 20;
    const svg = el("svg", { width, height, viewBox: `0 0 ${width} ${height}`, class: "sb-seq", role: "img" });
    svg.appendChild(el("title", {}, t.reference ? `timeline of ${t.reference}` : "timeline"));
    const defs = el("defs");
    for (const [id, cls] of [["sb-head", "head"], ["sb-cross", "cross"]]) {
      const m = el("marker", { id, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
      m.appendChild(cls === "head" ? el("path", { d: "M0,0 L10,5 L0,10 z", class: "sb-head" })
                                   : el("path", { d: "M1,1 L9,9 M9,1 L1,9", class: "sb-cross" }));
      defs.appendChild(m);
    }
    svg.appendChild(defs);
    lanes.forEach(l => {
      const g = el("g", { class: `sb-lane sb-role-${l.role}`, "data-lane": l.id });
      g.appendChild(el("line", { x1: x.get(l.id), y1: TOP - 8, x2: x.get(l.id), y2: height - 8, class: "sb-life" }));
      g.appendChild(el("text", { x: x.get(l.id), y: 20, class: "sb-lane-label", "text-anchor": "middle" }, l.label));
      svg.appendChild(g);
    });
    t.steps.forEach((s, i) => {
      const y = TOP + i * ROW_H + ROW_H / 2;
      const g = el("g", {
        class: `sb-step sb-${s.class}` + (opts.highlight && opts.highlight(s) ? " sb-marked" : ""),
        "data-seq": s.seq, "data-class": s.class, "data-reference": s.reference || "",
        "data-attempt": s.attempt || "", "data-next": s.next_local || "", tabindex: 0,
      });
      g.appendChild(el("text", { x: 6, y: y + 4, class: "sb-time" }, s.local.slice(5)));
      if (s.from && s.to) {
        const x1 = x.get(s.from), x2 = x.get(s.to);
        const dashed = ["reply", "answer", "lost_reply"].includes(s.class);
        g.appendChild(el("line", {
          x1, y1: y + 6, x2: x2 + (x2 > x1 ? -2 : 2), y2: y + 6, class: "sb-arrow" + (dashed ? " sb-dashed" : ""),
          "marker-end": s.class === "lost_reply" ? "url(#sb-cross)" : "url(#sb-head)",
        }));
        g.appendChild(el("text", { x: (x1 + x2) / 2, y: y, "text-anchor": "middle", class: "sb-label" }, s.label));
      } else if (s.over) {
        const xs = s.over.map(id => x.get(id)).filter(v => v !== undefined);
        const lo = Math.min(...xs) - LANE_W / 2 + 12, hi = Math.max(...xs) + LANE_W / 2 - 12;
        g.appendChild(el("rect", { x: lo, y: y - 11, width: hi - lo, height: 22, rx: 3, class: "sb-note" }));
        g.appendChild(el("text", { x: (lo + hi) / 2, y: y + 4, "text-anchor": "middle", class: "sb-label" }, s.label));
      }
      const full = [s.local, s.label, s.detail].join(" — ");
      g.appendChild(el("title", {}, full));
      if (opts.onSelect) {
        g.addEventListener("click", () => opts.onSelect(s));
        g.addEventListener("keydown", ev => { if (ev.key === "Enter") opts.onSelect(s); });
      }
      svg.appendChild(g);
    });
    box.appendChild(svg);
    // A note grows to its text (up to two lanes wide); a label wider than its room is
    // shortened to fit (the whole text is the step's tooltip and its details).
    for (const label of svg.querySelectorAll(".sb-label")) {
      const shape = label.previousSibling;
      const note = shape.tagName === "rect";
      const room = note ? 2 * LANE_W - 16
        : Math.max(LANE_W - 20, Math.abs(shape.x2.baseVal.value - shape.x1.baseVal.value) - 10);
      let text = label.textContent;
      while (text.length > 8 && label.getComputedTextLength() > room) {
        text = text.slice(0, Math.floor(text.length * 0.9));
        label.textContent = text + "…";
      }
      if (note) {
        const mid = Number(label.getAttribute("x"));
        const w = Math.max(Number(shape.getAttribute("width")), label.getComputedTextLength() + 14);
        const x0 = Math.max(LEFT - 4, Math.min(mid - w / 2, width - w - 2));
        shape.setAttribute("x", x0);
        shape.setAttribute("width", w);
        label.setAttribute("x", x0 + w / 2);
      }
    }
    return svg;
  }

  // The details of a step, as a DOM fragment: what the arrow carried.
  function details(s) {
    const d = document.createElement("div");
    const h = document.createElement("h3");
    h.textContent = `#${s.seq} ${s.local} (Beijing time) — ${s.label}`;
    d.appendChild(h);
    const p = document.createElement("p");
    p.textContent = s.detail + (s.next_local ? ` — next attempt due ${s.next_local}` : "");
    d.appendChild(p);
    if (s.body) {
      const pre = document.createElement("pre");
      pre.textContent = s.body;
      d.appendChild(pre);
    }
    return d;
  }

  return { draw, details };
})();
