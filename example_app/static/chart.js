// The per-minute chart: a stacked bar per minute of the last hour (accepted, declined, then
// blocked split by the policy that blocked), drawn as SVG by hand. A few dozen lines against a
// vendored chart library's hundreds of kilobytes, and nothing fetched from elsewhere.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
// The drawing is as wide as its box, in CSS pixels, so that its text stays at the size the
// style sheet gives it (11 px) and its height at HEIGHT on a phone as on a desktop: a fixed
// viewBox scaled down to 360 px drew a 54 px chart with 4 px text.
const MIN_WIDTH = 240;
const FALLBACK_WIDTH = 960;
const HEIGHT = 170;
const LEFT = 34;
const BOTTOM = 20;
const TOP = 8;
const MINUTE = 60000;
// Series, bottom to top; blocked ones follow, one per policy.
const ALLOWED = ["accepted", "declined", "requested"];
const KNOWN_POLICIES = ["blocklist", "content", "velocity"];

function svg(tag, attributes = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function pad(number) {
  return String(number).padStart(2, "0");
}

function clock(ms) {
  const when = new Date(ms);
  return pad(when.getHours()) + ":" + pad(when.getMinutes());
}

// A CSS class for a series: known policies have their own colour, any other shares one.
export function seriesClass(name) {
  if (ALLOWED.includes(name)) return "series-" + name;
  const policy = name.slice("blocked:".length);
  return "series-blocked " + (KNOWN_POLICIES.includes(policy) ? "policy-" + policy : "policy-other");
}

function seriesLabel(name) {
  if (ALLOWED.includes(name)) return name;
  const policy = name.slice("blocked:".length);
  return "blocked by " + (policy || "an unnamed hook");
}

// A chart in `container`, its legend in `legend`. `load(minutes, nowMs)` replaces the data
// with the server's; `add(decision)` counts one live decision; `tick(nowMs)` moves the window.
export function createChart(container, legend, minutes = 60) {
  let buckets = [];
  let WIDTH = boxWidth();
  const root = svg("svg", {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    class: "chart-svg",
    "data-total": "0",
  });
  container.replaceChildren(root);

  function boxWidth() {
    return Math.max(MIN_WIDTH, Math.round(container.clientWidth || FALLBACK_WIDTH));
  }

  // Redrawn at the new width when the box changes (a turned phone, a resized window).
  if (typeof ResizeObserver === "function") {
    new ResizeObserver(() => {
      const width = boxWidth();
      if (width !== WIDTH) {
        WIDTH = width;
        draw();
      }
    }).observe(container);
  }

  function empty(minuteMs) {
    return { minute_ms: minuteMs, accepted: 0, declined: 0, blocked: {} };
  }

  function tick(nowMs) {
    const current = nowMs - (nowMs % MINUTE);
    const first = current - (minutes - 1) * MINUTE;
    const byMinute = new Map(buckets.map((bucket) => [bucket.minute_ms, bucket]));
    const next = [];
    for (let n = 0; n < minutes; n += 1) {
      const minuteMs = first + n * MINUTE;
      next.push(byMinute.get(minuteMs) || empty(minuteMs));
    }
    const moved = !buckets.length || next[0].minute_ms !== buckets[0].minute_ms;
    buckets = next;
    if (moved) draw();
  }

  function load(data, nowMs) {
    buckets = data.map((bucket) => ({ ...bucket, blocked: { ...bucket.blocked } }));
    tick(nowMs);
    draw();
  }

  function add(decision) {
    const at = decision.received_at_ms;
    const last = buckets[buckets.length - 1];
    if (last && at >= last.minute_ms + MINUTE) tick(at);
    const minuteMs = at - (at % MINUTE);
    const bucket = buckets.find((candidate) => candidate.minute_ms === minuteMs);
    if (!bucket) return; // older than the window
    if (decision.kind === "blocked") {
      const policy = decision.policy || "";
      bucket.blocked[policy] = (bucket.blocked[policy] || 0) + 1;
    } else if (ALLOWED.includes(decision.kind)) {
      bucket[decision.kind] += 1;
    }
    draw();
  }

  function seriesOf(bucket) {
    const series = ALLOWED.map((name) => [name, bucket[name]]);
    // A policy's refusals at the request step (request_content) join its series (content):
    // one colour and one legend entry per policy, whichever step it refused at.
    const byPolicy = {};
    for (const [policy, count] of Object.entries(bucket.blocked)) {
      const name = policy.replace(/^request_/, "");
      byPolicy[name] = (byPolicy[name] || 0) + count;
    }
    for (const policy of Object.keys(byPolicy).sort()) {
      series.push(["blocked:" + policy, byPolicy[policy]]);
    }
    return series.filter(([, count]) => count > 0);
  }

  function niceMax(value) {
    if (value <= 4) return 4;
    const magnitude = 10 ** Math.floor(Math.log10(value));
    for (const step of [1, 2, 2.5, 5, 10]) {
      if (step * magnitude >= value) return step * magnitude;
    }
    return value;
  }

  function draw() {
    root.setAttribute("viewBox", `0 0 ${WIDTH} ${HEIGHT}`);
    root.setAttribute("width", String(WIDTH));
    root.setAttribute("height", String(HEIGHT));
    const totals = buckets.map((bucket) => seriesOf(bucket).reduce((sum, [, n]) => sum + n, 0));
    const total = totals.reduce((sum, n) => sum + n, 0);
    const top = niceMax(Math.max(0, ...totals));
    const plotHeight = HEIGHT - TOP - BOTTOM;
    const slot = (WIDTH - LEFT) / Math.max(buckets.length, 1);
    const children = [];
    const seen = new Set();

    for (const fraction of [0, 0.5, 1]) {
      const y = TOP + plotHeight * (1 - fraction);
      children.push(svg("line", { x1: LEFT, x2: WIDTH, y1: y, y2: y, class: "grid" }));
      const label = svg("text", { x: LEFT - 6, y: y + 4, class: "axis", "text-anchor": "end" });
      label.textContent = String(Math.round(top * fraction * 10) / 10);
      children.push(label);
    }

    buckets.forEach((bucket, index) => {
      const group = svg("g", {
        class: "bar",
        "data-minute": String(bucket.minute_ms),
        "data-count": String(totals[index]),
      });
      const x = LEFT + index * slot + slot * 0.12;
      let y = TOP + plotHeight;
      const parts = [];
      for (const [name, count] of seriesOf(bucket)) {
        seen.add(name);
        const height = (count / top) * plotHeight;
        y -= height;
        group.append(
          svg("rect", { x, y, width: slot * 0.76, height, class: seriesClass(name) }),
        );
        parts.push(seriesLabel(name) + " " + count);
      }
      // A hover target the full height of the slot, with the minute's numbers.
      const hover = svg("rect", {
        x: LEFT + index * slot,
        y: TOP,
        width: slot,
        height: plotHeight,
        class: "hover",
      });
      const title = svg("title");
      title.textContent = clock(bucket.minute_ms) + ": " + (parts.join(", ") || "nothing");
      hover.append(title);
      group.append(hover);
      children.push(group);
    });

    for (const index of [0, Math.floor(buckets.length / 2), buckets.length - 1]) {
      const bucket = buckets[index];
      if (!bucket) continue;
      const anchor = index === 0 ? "start" : index === buckets.length - 1 ? "end" : "middle";
      const x = index === 0 ? LEFT : index === buckets.length - 1 ? WIDTH : LEFT + (index + 0.5) * slot;
      const label = svg("text", { x, y: HEIGHT - 5, class: "axis", "text-anchor": anchor });
      label.textContent = clock(bucket.minute_ms);
      children.push(label);
    }

    root.replaceChildren(...children);
    root.setAttribute("data-total", String(total));
    drawLegend(seen);
  }

  function drawLegend(seen) {
    const names = [...ALLOWED, ...[...seen].filter((name) => !ALLOWED.includes(name)).sort()];
    if (![...seen].some((name) => !ALLOWED.includes(name))) names.push("blocked:");
    legend.replaceChildren(
      ...names.map((name) => {
        const item = document.createElement("li");
        const swatch = document.createElement("span");
        swatch.className = "swatch " + seriesClass(name);
        item.append(swatch, document.createTextNode(name === "blocked:" ? "blocked" : seriesLabel(name)));
        return item;
      }),
    );
  }

  return { load, add, tick };
}
