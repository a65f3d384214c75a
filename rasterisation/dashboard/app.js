// The dashboard: sign in, upload, masks and scores, past images, API tokens.
import { api, ApiError, currentUser, signIn, signOut } from "./api.js";
import { $, band, el, feedbackWords, formatValue, metricRows, problemWords, show } from "./view.js";

const PAGE_SIZE = 20;
const DEFAULT_ALGORITHMS = ["pores", "lines", "redness", "acne", "pigmentation"];
const NO_PICTURE = new Set(["quality"]); // answers only feedback, not a mask worth drawing
let algorithms = [];
let chosenFile = null;
let photoUrl = null;
let imagesPage = 1;

// ---------------------------------------------------------------- errors and status
function showError(err) {
  const box = $("error");
  let message = err instanceof ApiError || err instanceof Error ? err.message : String(err);
  if (err instanceof ApiError && err.status === 401 && document.body.dataset.state === "signed-in") {
    message = `You are signed out: ${message}`;
    renderSignedOut();
  }
  box.textContent = message || "Something went wrong.";
  show(box, true);
}

function clearError() {
  show($("error"), false);
  $("error").textContent = "";
}

function setStatus(text) {
  $("status").textContent = text;
}

async function guarded(fn) {
  clearError();
  try {
    return await fn();
  } catch (err) {
    showError(err);
    return undefined;
  }
}

function companyPath(suffix) {
  return `/api/v1/companies/${currentUser().company_id}${suffix}`;
}

// ---------------------------------------------------------------- signed in / out
function renderSignedOut() {
  show($("app"), false);
  show($("who"), false);
  show($("signin"), true);
  // nothing of the company stays on the page
  for (const id of ["masks", "quality", "images", "tokens", "algorithms", "new-token-value"]) {
    $(id).replaceChildren();
  }
  show($("new-token"), false);
  show($("results"), false);
  $("photo").removeAttribute("src");
  $("photo-caption").textContent = "";
  setStatus("");
  if (photoUrl) URL.revokeObjectURL(photoUrl);
  photoUrl = null;
  chosenFile = null;
  $("file").value = "";
  $("run").disabled = true;
  document.body.dataset.state = "signed-out";
}

async function renderSignedIn() {
  const user = currentUser();
  $("who-email").textContent = `${user.email} (${user.role})`;
  show($("signin"), false);
  show($("who"), true);
  show($("app"), true);
  show($("tokens-section"), user.role === "admin");
  document.body.dataset.state = "signed-in";
  await Promise.all([loadAlgorithms(), loadImages(1), user.role === "admin" ? loadTokens() : null]);
}

$("signin-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const email = $("email").value.trim();
    const password = $("password").value;
    if (!email || !password) throw new Error("Enter your email and your password.");
    $("signin-button").disabled = true;
    try {
      await signIn(email, password);
    } finally {
      $("signin-button").disabled = false;
      $("password").value = "";
    }
    await renderSignedIn();
  });
});

$("logout").addEventListener("click", async () => {
  await signOut();
  renderSignedOut();
  clearError();
});

// ---------------------------------------------------------------- algorithms
async function loadAlgorithms() {
  algorithms = await api("/api/v1/algorithms/");
  const box = $("algorithms");
  box.replaceChildren(el("legend", { text: "Algorithms" }));
  for (const algorithm of algorithms) {
    if (NO_PICTURE.has(algorithm.tech_name)) continue;
    box.append(el("label", { title: algorithm.description || "" },
      el("input", { type: "checkbox", name: "algorithm", value: algorithm.tech_name,
                    checked: DEFAULT_ALGORITHMS.includes(algorithm.tech_name) }),
      algorithm.tech_name.replaceAll("_", " ")));
  }
}

function chosenAlgorithms() {
  return [...document.querySelectorAll("input[name=algorithm]:checked")].map((i) => i.value);
}

// ---------------------------------------------------------------- upload
function chooseFile(file) {
  clearError();
  if (!file) return;
  if (!["image/jpeg", "image/png", "image/webp"].includes(file.type)) {
    showError(new Error(`${file.name} is not a JPEG, PNG or WEBP photo.`));
    return;
  }
  chosenFile = file;
  $("dropzone-text").textContent = `Chosen: ${file.name} (${Math.round(file.size / 1024)} KB)`;
  $("run").disabled = false;
}

const zone = $("dropzone");
zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", (e) => {
  e.preventDefault();
  zone.classList.remove("over");
  chooseFile(e.dataTransfer.files[0]);
});
$("file").addEventListener("change", () => chooseFile($("file").files[0]));

$("run").addEventListener("click", () => guarded(async () => {
  const names = chosenAlgorithms();
  if (!chosenFile) throw new Error("Choose a photo first.");
  if (names.length === 0) throw new Error("Choose at least one algorithm.");
  $("run").disabled = true;
  try {
    setStatus("Uploading the photo…");
    const form = new FormData();
    form.append("file", chosenFile, chosenFile.name);
    const image = await api(companyPath("/images/"), { method: "POST", form });
    if (photoUrl) URL.revokeObjectURL(photoUrl);
    photoUrl = URL.createObjectURL(chosenFile);
    await analyse(image, names, photoUrl);
    loadImages(1).catch(showError);
  } finally {
    $("run").disabled = false;
  }
}));

// ---------------------------------------------------------------- results
async function analyse(image, names, photoSrc) {
  show($("results"), true);
  $("photo").src = photoSrc;
  $("photo-caption").textContent = `${image.original_filename || "photo"}, ${image.width}×${image.height} px`;
  $("masks").replaceChildren();
  $("quality").replaceChildren(el("p", { class: "hint", text: "Checking the photo's quality…" }));
  setStatus(`Computing ${names.length} mask${names.length > 1 ? "s" : ""}…`);
  const qualityPromise = api(companyPath(`/images/${image.id}/analyses/quality`))
    .then(renderQuality)
    .catch((err) => $("quality").replaceChildren(el("p", { class: "error", text: `Quality check failed: ${err.message}` })));
  const items = await api(`/service/rasterisation/v4/masks/?company_id=${currentUser().company_id}`, {
    method: "POST",
    json: { image_id: image.id, image_type: "original",
            masks: names.map((n) => ({ algorithm_tech_name: n, main_metric: true, sub_metrics: true })) },
  });
  const cards = items.map((item) => maskCard(item, photoSrc));
  $("masks").replaceChildren(...cards.map((c) => c.node));
  setStatus("Loading the scores per area…");
  await Promise.all([qualityPromise, ...cards.map((c) => c.loadAreas(image.id))]);
  setStatus(`Done: ${items.filter((i) => !i.error).length} of ${items.length} masks.`);
  document.body.dataset.results = image.id;
}

function renderQuality(analysis) {
  const problems = (analysis.feedback && analysis.feedback.problems) || [];
  const box = $("quality");
  box.replaceChildren(el("h3", { text: "Photo quality" }));
  if (problems.length === 0) {
    box.append(el("p", { text: "No problem found: the photo is good for analysis." }));
  } else {
    box.append(el("ul", { class: "problems" },
      problems.map((p) => el("li", { dataset: { problem: p }, text: problemWords(p) }))));
  }
}

function maskCard(item, photoSrc) {
  const name = item.algorithm_tech_name;
  const spec = algorithms.find((a) => a.tech_name === name);
  const node = el("article", { class: "mask-card", dataset: { algorithm: name } },
    el("h3", { text: name.replaceAll("_", " ") }));
  const areas = el("div", { class: "areas" });
  if (item.error) {
    node.append(el("p", { class: "error", text: item.error }));
    return { node, loadAreas: async () => {} };
  }
  const picture = el("img", { class: "mask-img", src: item.masked_image_url,
                              alt: `${name} mask over the photo`, referrerpolicy: "no-referrer" });
  const toggle = el("button", { type: "button", class: "secondary toggle", text: "Hide the mask" });
  let overlay = true;
  toggle.addEventListener("click", () => {
    overlay = !overlay;
    picture.src = overlay ? item.masked_image_url : photoSrc;
    toggle.textContent = overlay ? "Hide the mask" : "Show the mask";
  });
  const main = item.main_metric;
  const b = band(main);
  node.append(
    el("div", { class: "pair" },
      el("img", { class: "mask-photo", src: photoSrc, alt: "The photo" }),
      picture),
    toggle,
    el("p", {},
      el("span", { class: "metric-name", text: main ? `${main.name}: ` : "No main score" }),
      main ? el("span", { class: "score main-score", dataset: { value: String(main.value) },
                          text: formatValue(main) }) : null,
      b ? el("span", { class: `band ${b.key}`, text: b.words }) : null),
    item.sub_metrics && item.sub_metrics.length
      ? el("table", { class: "sub-metrics" }, el("tbody", {}, metricRows(item.sub_metrics)))
      : null,
    ...feedbackWords(item.feedback).map((words) => el("p", { class: "feedback", text: words })),
    areas);
  async function loadAreas(imageId) {
    if (!spec || !(spec.areas || []).length) return;
    try {
      const analysis = await api(companyPath(`/images/${imageId}/analyses/${name}`));
      const rows = (analysis.area_results || []).map((area) => el("tr", {},
        el("td", { text: area.area_name.replaceAll("_", " ") }),
        el("td", { class: "num", text: formatValue(area.main_metric) })));
      if (rows.length) {
        areas.replaceChildren(el("table", { class: "area-scores" },
          el("thead", {}, el("tr", {}, el("th", { text: "Area" }), el("th", { text: "Score" }))),
          el("tbody", {}, rows)));
      }
    } catch (err) {
      areas.replaceChildren(el("p", { class: "error", text: `Scores per area failed: ${err.message}` }));
    }
  }
  return { node, loadAreas };
}

// ---------------------------------------------------------------- past images
async function loadImages(page) {
  imagesPage = page;
  const listing = await api(companyPath(`/images/?page=${page}&page_size=${PAGE_SIZE}`));
  const list = $("images");
  if (page === 1) list.replaceChildren();
  if (listing.total === 0) list.append(el("li", { class: "meta", text: "No image yet." }));
  for (const image of listing.items) {
    list.append(el("li", { dataset: { image: image.id } },
      el("span", {}, image.original_filename || image.id,
        el("span", { class: "meta", text: ` · ${image.width}×${image.height} · ${new Date(image.created_at).toLocaleString()}` })),
      el("span", {},
        el("button", { type: "button", class: "secondary", text: "Open",
                       onclick: () => guarded(() => openImage(image.id)) }),
        " ",
        el("button", { type: "button", class: "danger", text: "Delete",
                       onclick: () => guarded(() => deleteImage(image)) }))));
  }
  show($("more-images"), listing.total > page * PAGE_SIZE);
}

$("more-images").addEventListener("click", () => guarded(() => loadImages(imagesPage + 1)));

async function openImage(id) {
  const image = await api(companyPath(`/images/${id}`));
  const names = chosenAlgorithms();
  if (names.length === 0) throw new Error("Choose at least one algorithm.");
  await analyse(image, names, image.url);
}

async function deleteImage(image) {
  if (!window.confirm(`Delete ${image.original_filename || "this image"} and all its results?`)) return;
  await api(companyPath(`/images/${image.id}`), { method: "DELETE" });
  if (document.body.dataset.results === image.id) {
    show($("results"), false);
    $("masks").replaceChildren();
  }
  await loadImages(1);
}

// ---------------------------------------------------------------- API tokens
async function loadTokens() {
  const listing = await api("/api/v1/auth/private_tokens/?page_size=100");
  $("tokens").replaceChildren(...listing.items.map((t) => el("li", { dataset: { token: t.id } },
    el("span", {}, `${t.name} `, el("code", { text: `${t.prefix}…` }),
      el("span", { class: "meta", text: ` · ${t.state}` +
        (t.last_used_at ? ` · last used ${new Date(t.last_used_at).toLocaleString()}` : "") })),
    t.state === "active"
      ? el("button", { type: "button", class: "danger", text: "Revoke",
                       onclick: () => guarded(() => revokeToken(t)) })
      : null)));
}

async function revokeToken(token) {
  if (!window.confirm(`Revoke the token ${token.name}? Programs using it stop working now.`)) return;
  await api(`/api/v1/auth/private_tokens/${token.id}`, { method: "DELETE" });
  await loadTokens();
}

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  guarded(async () => {
    const name = $("token-name").value.trim();
    if (!name) throw new Error("Give the token a name.");
    const created = await api("/api/v1/auth/private_tokens/", { method: "POST", json: { name } });
    $("new-token-value").textContent = created.token;
    show($("new-token"), true);
    $("token-name").value = "";
    await loadTokens();
  });
});

window.addEventListener("unhandledrejection", (event) => showError(event.reason));
renderSignedOut();
