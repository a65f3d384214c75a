// Small DOM helpers and the words shown for codes (no innerHTML of server data anywhere).

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const $ = (id) => document.getElementById(id);

export function show(node, visible) {
  node.hidden = !visible;
}

// What each quality problem means, in plain words.
export const PROBLEM_WORDS = {
  no_face: "No face was found in the photo.",
  multiple_faces: "More than one face is in the photo; keep one person in the picture.",
  face_too_small: "The face is too small; come closer or crop the photo around the face.",
  bad_pose: "The head is turned or tilted; look straight at the camera.",
  blurry: "The photo is blurry; hold the camera still and focus on the face.",
  under_exposed: "The photo is too dark; add light in front of the face.",
  over_exposed: "The photo is too bright; parts of the skin are washed out.",
  uneven_light: "The light is uneven across the face; face the light source.",
  low_resolution: "The photo has too few pixels per millimetre of skin for this measure; use a sharper or closer photo.",
};

export function problemWords(code) {
  return PROBLEM_WORDS[code] || `Problem: ${String(code).replaceAll("_", " ")}.`;
}

// Feedback of one mask (e.g. low_resolution) in words.
export function feedbackWords(feedback) {
  const out = [];
  if (!feedback || typeof feedback !== "object") return out;
  const problems = Array.isArray(feedback.problems) ? feedback.problems : [];
  for (const problem of problems) out.push(problemWords(typeof problem === "string" ? problem : problem.code));
  for (const [key, value] of Object.entries(feedback)) {
    if (key === "problems") continue;
    if (key === "low_resolution" && value) out.push(PROBLEM_WORDS.low_resolution);
    else if (typeof value === "string") out.push(`${key.replaceAll("_", " ")}: ${value}`);
  }
  return out;
}

// A 0-100 "higher is better" score in three bands.
export function band(metric) {
  if (!metric || metric.widget_type !== "bad_good_line" || typeof metric.value !== "number") return null;
  if (metric.value >= 70) return { key: "good", words: "good" };
  if (metric.value >= 40) return { key: "fair", words: "fair" };
  return { key: "care", words: "needs care" };
}

export function formatValue(metric) {
  const value = metric ? metric.value : null;
  if (value === null || value === undefined) return "—";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(1);
  return String(value);
}

export function metricRows(metrics) {
  return (metrics || []).map((m) => el("tr", { dataset: { metric: m.tech_name } },
    el("td", { text: m.name }),
    el("td", { class: "num", text: formatValue(m) + (m.unit ? ` ${m.unit}` : "") })));
}
