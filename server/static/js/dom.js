// Small DOM helpers: elements are built with textContent (never innerHTML with data), plus number formatting.

const SVG_NS = "http://www.w3.org/2000/svg";

function apply(el, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "class") {
      el.setAttribute("class", value);
    } else if (key === "text") {
      el.textContent = value;
    } else if (key === "style" && typeof value === "object") {
      Object.assign(el.style, value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** An HTML element: h("p", {class: "x", "data-testid": "y", onClick: fn}, "text", childNode, [more]). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

/** An SVG element, same calling convention as h(). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  apply(el, attrs);
  append(el, children);
  return el;
}

export function isNum(x) {
  return typeof x === "number" && Number.isFinite(x);
}

const DIGITS = { deg: 1, "°": 1, ratio: 3, "%": 1, "m/s": 2, m: 2, s: 3, "steps/min": 1, Hz: 0, ms: 1 };

/** A number with its unit ("12.3°", "1.11 m/s", "1.008"), or an em dash when missing. */
export function fmt(x, unit = "", digits) {
  if (!isNum(x)) return "—";
  const d = digits ?? DIGITS[unit] ?? 2;
  if (unit === "deg" || unit === "°") return `${x.toFixed(d)}°`;
  if (unit === "ratio" || unit === "") return x.toFixed(d);
  return `${x.toFixed(d)} ${unit}`;
}

/** The unit as printed on an axis or in a header. */
export function unitLabel(unit) {
  return unit === "deg" ? "°" : unit || "";
}

/** "2.0–6.0" (interim marked) for a reference band {low, high, interim}, or "—". */
export function bandText(ref, unit = "") {
  if (!ref || !isNum(ref.low) || !isNum(ref.high)) return "—";
  const u = unitLabel(unit);
  const sep = u === "°" || u === "" ? "" : " ";
  return `${trim(ref.low)}–${trim(ref.high)}${sep}${u}${ref.interim ? " (interim)" : ""}`;
}

function trim(x) {
  return String(Number(x.toPrecision(6)));
}

/** "below" | "within" | "above" | "" for a value against a reference band. */
export function position(value, ref) {
  if (!isNum(value) || !ref || !isNum(ref.low) || !isNum(ref.high)) return "";
  if (value < ref.low) return "below";
  if (value > ref.high) return "above";
  return "within";
}

/** A position marker that does not rely on colour: an arrow and a word. */
export function positionBadge(pos) {
  if (!pos) return null;
  const text = { below: "↓ below band", above: "↑ above band", within: "within band" }[pos];
  return h("span", { class: `pos pos-${pos}` }, text);
}

export function fmtDate(value) {
  if (!value) return "—";
  return String(value).slice(0, 10);
}

export function fmtDateTime(value) {
  if (!value) return "—";
  const d = new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

/** mm:ss from seconds. */
export function fmtClock(seconds) {
  if (!isNum(seconds)) return "—";
  const total = Math.max(0, Math.floor(seconds));
  const m = Math.floor(total / 60);
  return `${m}:${String(total % 60).padStart(2, "0")}`;
}

/** Follow a path of keys into nested objects; undefined when any step is missing. */
export function lookup(obj, ...keys) {
  let cur = obj;
  for (const key of keys) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[key];
  }
  return cur;
}

/** A metric as the report gives it: {value, unit, sd, n, ci95, reference}, or a bare number. */
export function metricValue(entry) {
  if (entry && typeof entry === "object") return entry.value;
  return entry;
}

/** A status line element used by pages for loading / error messages. */
export function notice(text, kind = "info", attrs = {}) {
  return h("p", { class: `notice notice-${kind}`, role: kind === "error" ? "alert" : null, ...attrs }, text);
}

/** Replace an element's children (null, undefined and false are skipped, as in h()). */
export function setChildren(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
