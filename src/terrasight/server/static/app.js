// terrasight's page: one job at a time on a Leaflet map, with a swipe between the dates,
// the change mask and polygons, a table of objects and a conversation about them; and, when the
// server has an archive index, a search whose tiles appear as boxes on the map and in a list.
"use strict";

const state = { job: null, map: null, info: null, mapReady: null, layers: {}, objects: new Map(), events: null };
const $ = (id) => document.getElementById(id);
const COLOURS = ["#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4",
                 "#f032e6", "#bfef45", "#469990", "#9a6324", "#800000", "#000075"];

function colourOf(change) {
  let h = 0;
  for (const c of change) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return COLOURS[h % COLOURS.length];
}

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options });
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : null;
  if (!response.ok) throw new Error(body?.detail || `${response.status} ${response.statusText}`);
  return body;
}

function showError(error) {
  const box = $("error");
  box.textContent = error ? String(error.message || error) : "";
  box.hidden = !error;
}

function area(value, unit) {
  if (unit === "m2") return value >= 1e4 ? `${(value / 1e4).toFixed(2)} ha` : `${Math.round(value)} m²`;
  return `${Math.round(value)} ${unit}`;
}

async function loadStart() {
  const data = await api("api/data");
  const select = $("method");
  const chosen = data.default_method;
  for (const m of data.methods) select.add(new Option(m, m, m === chosen, m === chosen));
  $("archive").hidden = !data.archive;
  const jobs = await api("api/jobs");
  for (const j of jobs) $("jobs").add(new Option(jobLabel(j), j.id));
}

function jobLabel(j) {
  return `${j.id} ${j.kind === "change" ? "" : j.kind + " "}${j.method} ${j.state}`;
}

async function startJob(request) {
  showError(null);
  try {
    const job = await request();
    $("jobs").add(new Option(jobLabel(job), job.id), 1);
    followJob(job);
  } catch (error) { showError(error); }
}

function followJob(job) {
  state.job = job;
  state.info = null;
  state.objects = new Map();
  $("progress-box").hidden = false;
  $("job-id").textContent = job.id;
  $("result").hidden = $("chat").hidden = true;
  if (state.events) state.events.close();
  const events = new EventSource(`api/jobs/${job.id}/events`);
  state.events = events;
  events.addEventListener("job", (e) => {
    const j = JSON.parse(e.data);
    $("progress").value = j.progress;
    $("job-state").textContent = `${j.state_text || j.state} (${j.stage}) ${Math.round(j.progress * 100)}%`;
    $("cancel").hidden = j.finished;
    if (j.finished) {
      events.close();
      if (j.state === "done") showResult(j).catch(showError);
      else if (j.error) showError(j.error);
    }
  });
  events.onerror = () => { if (events.readyState === EventSource.CLOSED) state.events = null; };
  // The result waits for this: a finished job's "done" event may come before its map info.
  state.mapReady = showInputs(job.id);
  state.mapReady.catch(showError);
}

function current(jobId) {
  return state.job && state.job.id === jobId;
}

function resetMap(info) {
  if (state.map) state.map.remove();
  const options = info.georeferenced ? {} : { crs: L.CRS.Simple };
  const map = L.map("map", { ...options, maxZoom: info.maxzoom + 3, minZoom: 0 });
  for (const [name, z] of [["before", 200], ["after", 210], ["mask", 300]]) {
    map.createPane(name).style.zIndex = z;
  }
  state.map = map;
  state.info = info;
  state.layers = {};
  const bounds = info.georeferenced
    ? L.latLngBounds(info.bounds)
    : L.latLngBounds(map.unproject([0, info.height], info.maxzoom), map.unproject([info.width, 0], info.maxzoom));
  state.bounds = bounds;
  map.fitBounds(bounds);
  map.on("move zoom resize", updateSwipe);
  return map;
}

function tiles(jobId, layer) {
  return L.tileLayer(`api/jobs/${jobId}/tiles/${layer}/{z}/{x}/{y}.png`, {
    pane: layer, maxNativeZoom: state.info.maxzoom, maxZoom: state.info.maxzoom + 3,
    bounds: state.bounds, noWrap: true, className: `tiles-${layer}`,
  });
}

async function showInputs(jobId) {
  const info = await api(`api/jobs/${jobId}/map`);
  if (!current(jobId)) return false;  // another job was opened meanwhile
  const map = resetMap(info);
  state.layers.before = tiles(jobId, "before").addTo(map);
  state.layers.after = tiles(jobId, "after").addTo(map);
  $("swipe").hidden = $("swipe-labels").hidden = false;
  updateSwipe();
  return true;
}

function updateSwipe() {
  const map = state.map;
  if (!map || !map.getPane("after")) return;
  const ratio = $("swipe").value / 100;
  const nw = map.containerPointToLayerPoint([0, 0]);
  const se = map.containerPointToLayerPoint(map.getSize());
  const x = nw.x + map.getSize().x * ratio;
  map.getPane("after").style.clip = `rect(${nw.y}px, ${se.x}px, ${se.y}px, ${x}px)`;
}

async function showResult(job) {
  if (job.kind && job.kind !== "change") return showOther(job);
  const jobId = job.id;
  const [facts, geojson, files] = await Promise.all([
    api(`api/jobs/${jobId}/facts`),
    api(`api/jobs/${jobId}/files/changes.geojson`),
    api(`api/jobs/${jobId}/files`),
  ]);
  let mapped = false;
  try { mapped = await state.mapReady; } catch (error) { /* shown by followJob; the table still comes */ }
  if (!current(jobId)) return;
  fillTable(facts);
  fillDownloads(jobId, files.files);
  $("result-summary").textContent =
    `${facts.object_count} objects, ${area(facts.changed_area, facts.area_unit)} changed ` +
    `(${(100 * facts.changed_fraction).toFixed(2)}% of the scene), method ${facts.method}.`;
  $("result").hidden = $("chat").hidden = false;
  showClasses(jobId).catch(showError);
  showConversation(jobId).catch(showError);
  if (mapped && state.info) showOnMap(jobId, facts, geojson);
}

async function showClasses(jobId) {
  // What the changes were and became, measured per pixel; what a budget left out is said.
  const c = await api(`api/jobs/${jobId}/classes`);
  const line = $("result-classes");
  if (!current(jobId)) return;
  if (!c.measured) { line.hidden = true; return; }
  const top = c.transitions
    .filter((r) => r.from !== r.to && r.from !== "unknown" && r.to !== "unknown")
    .slice(0, 3)
    .map((r) => `${r.from} \u2192 ${r.to} ${area(r.area, c.area_unit)}`);
  const b = c.buildings || { built: 0, removed: 0 };
  line.textContent = `Land cover: ${b.built} buildings built, ${b.removed} removed` +
    (top.length ? `; largest changes ${top.join(", ")}` : "") + "." +
    (c.complete ? "" : " " + c.notes.filter((n) => n.startsWith("classes not computed")).join(" "));
  line.hidden = false;
}

async function showOther(job) {
  // A series of dates (its objects are dated; questions of when) or one image described.
  const [summary, files] = await Promise.all([
    api(`api/jobs/${job.id}/summary`), api(`api/jobs/${job.id}/files`),
  ]);
  if (!current(job.id)) return;
  $("objects").tBodies[0].replaceChildren();
  fillDownloads(job.id, files.files);
  $("result-summary").textContent = job.kind === "image" ? summary.text :
    `${summary.object_count} changed objects dated over ${summary.dates.length} dates ` +
    `(${summary.dates[0]} to ${summary.dates[summary.dates.length - 1]}), ` +
    `${area(summary.changed_area, summary.area_unit)} changed, method ${summary.method}.`;
  $("result").hidden = false;
  $("chat").hidden = false;
  showConversation(job.id).catch(showError);
}

function showOnMap(jobId, facts, geojson) {
  const map = state.map;
  state.layers.mask = tiles(jobId, "mask").addTo(map);
  const byId = new Map(facts.objects.map((o) => [o.id, o]));
  state.objects = new Map();
  const toLatLng = state.info.georeferenced
    ? undefined
    : (c) => map.unproject([c[0], c[1]], state.info.maxzoom);
  state.layers.polygons = L.geoJSON(geojson, {
    coordsToLatLng: toLatLng,
    style: (f) => {
      const change = byId.get(f.properties.id)?.change || "unknown -> unknown";
      return { color: colourOf(change), weight: 2, fillOpacity: 0.15, className: `obj obj-${f.properties.id}` };
    },
    onEachFeature: (f, layer) => {
      const o = byId.get(f.properties.id) || f.properties;
      layer.bindPopup(popup(o));
      state.objects.set(o.id, { layer, facts: o });
      layer.on("click", () => highlight([o.id], false));
    },
  }).addTo(map);
  $("layer-toggles").hidden = false;
}

async function showConversation(jobId) {
  // Questions asked before (by anyone on this server, before a restart too). The previous
  // job's messages go at once, not when this job's conversation arrives.
  $("messages").replaceChildren();
  const { turns } = await api(`api/jobs/${jobId}/conversation`);
  if (!current(jobId)) return;
  $("messages").replaceChildren();
  for (const t of turns) {
    say("you", t.question);
    say("agent", replyText(t.reply));
  }
}

function replyText(reply) {
  return reply.text + (reply.evidence.length ? ` [objects ${reply.evidence.join(", ")}]` : "");
}

function popup(o) {
  const where = o.centroid_lonlat ? `${o.centroid_lonlat[1].toFixed(5)}, ${o.centroid_lonlat[0].toFixed(5)}` : "";
  const rows = [["object", o.id], ["change", o.change || ""], ["area", area(o.area, o.area_unit)],
                ["where", `${o.location || ""} ${where}`]];
  const table = document.createElement("table");
  for (const [k, v] of rows) table.insertRow().append(cell(k), cell(v));
  return table;
}

function cell(text) {
  const td = document.createElement("td");
  td.textContent = String(text);
  return td;
}

function fillTable(facts) {
  const body = $("objects").tBodies[0];
  body.replaceChildren();
  for (const o of facts.objects) {
    const row = body.insertRow();
    row.className = "obj-row";
    row.dataset.id = o.id;
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = colourOf(o.change);
    const change = cell(o.change);
    change.prepend(swatch);
    row.append(cell(o.id), change, cell(area(o.area, o.area_unit)), cell(o.location));
    row.addEventListener("click", () => highlight([o.id], true));
  }
}

function fillDownloads(jobId, files) {
  const box = $("downloads");
  box.replaceChildren();
  for (const f of files) {
    const a = document.createElement("a");
    a.href = `api/jobs/${jobId}/files/${encodeURIComponent(f.name)}`;
    a.textContent = f.name;
    a.target = "_blank";
    box.append(a);
  }
}

function highlight(ids, zoom) {
  const wanted = new Set(ids);
  for (const [id, { layer }] of state.objects) {
    layer.getElement()?.classList.toggle("highlighted", wanted.has(id));
    if (wanted.has(id)) layer.bringToFront();
  }
  for (const row of $("objects").tBodies[0].rows) {
    row.classList.toggle("highlighted", wanted.has(Number(row.dataset.id)));
  }
  const chosen = ids.map((id) => state.objects.get(id)?.layer).filter(Boolean);
  if (zoom && chosen.length && state.info) {
    state.map.fitBounds(L.featureGroup(chosen).getBounds(), { maxZoom: state.info.maxzoom + 1, padding: [40, 40] });
    if (chosen.length === 1) chosen[0].openPopup();
  }
}

function say(who, text) {
  const div = document.createElement("div");
  div.className = `msg ${who}`;
  div.textContent = text;
  $("messages").append(div);
  div.scrollIntoView({ block: "nearest" });
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question || !state.job) return;
  say("you", question);
  $("question").value = "";
  try {
    const reply = await api(`api/jobs/${state.job.id}/ask`, {
      method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ question }),
    });
    say("agent", replyText(reply));
    highlight(reply.evidence, reply.evidence.length > 0);
  } catch (error) { say("agent", `error: ${error.message}`); }
}

async function searchArchive(event) {
  event.preventDefault();
  const q = $("search-text").value.trim();
  if (!q) return;
  $("search-note").textContent = "searching...";
  try {
    showHits(await api(`api/search?${new URLSearchParams({ q, k: "10" })}`));
  } catch (error) {
    $("search-note").textContent = `error: ${error.message}`;
    $("search-results").replaceChildren();
  }
}

function showHits(found) {
  // Boxes go on the map only when the job on screen is georeferenced; otherwise, a list only.
  if (state.layers.hits) state.layers.hits.remove();
  const onMap = Boolean(state.map && state.info && state.info.georeferenced);
  const group = onMap ? L.featureGroup().addTo(state.map) : null;
  state.layers.hits = group;
  const list = $("search-results");
  list.replaceChildren();
  let drawn = 0;
  for (const f of found.features) {
    const p = f.properties;
    const item = document.createElement("li");
    item.className = "hit";
    const where = p.bbox ? p.bbox.map((v) => v.toFixed(4)).join(", ") : "no place on the map";
    item.textContent = `${p.source} tile ${p.tile}, score ${p.score.toFixed(2)} (${where})`;
    if (group && p.bbox) {
      const [w, s, e, n] = p.bbox;
      const box = L.rectangle([[s, w], [n, e]], {
        color: "#ff7800", weight: 2, fillOpacity: 0.08, className: `hit-box hit-${p.rank}`,
      }).addTo(group);
      box.bindPopup(popupText(`${p.rank}. ${p.source}, score ${p.score.toFixed(2)}`));
      item.classList.add("on-map");
      item.addEventListener("click", () => {
        state.map.fitBounds(box.getBounds(), { padding: [40, 40] });
        box.openPopup();
      });
      drawn += 1;
    }
    list.append(item);
  }
  const count = `${found.features.length} tile${found.features.length === 1 ? "" : "s"}`;
  const why = onMap ? `${drawn} on the map` : "shown as a list: the map on screen has no place on Earth";
  $("search-note").textContent = found["terrasight:message"] || `${count} (${why}).`;
}

function popupText(text) {
  const div = document.createElement("div");
  div.textContent = text;
  return div;
}

function wire() {
  $("run-sample").addEventListener("click", () => startJob(() => api("api/jobs", {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ sample: true, method: $("method").value }),
  })));
  $("images-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);  // each kind takes its own default method
    startJob(() => api("api/jobs/upload-images", { method: "POST", body: form }));
  });
  $("upload-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    form.append("method", $("method").value);
    startJob(() => api("api/jobs/upload", { method: "POST", body: form }));
  });
  $("jobs").addEventListener("change", async (event) => {
    if (!event.target.value) return;
    try { followJob(await api(`api/jobs/${event.target.value}`)); } catch (error) { showError(error); }
  });
  $("cancel").addEventListener("click", () => state.job && api(`api/jobs/${state.job.id}/cancel`, { method: "POST" }).catch(showError));
  $("swipe").addEventListener("input", updateSwipe);
  $("ask-form").addEventListener("submit", ask);
  $("search-form").addEventListener("submit", searchArchive);
  $("show-mask").addEventListener("change", (e) => toggle("mask", e.target.checked));
  $("show-polygons").addEventListener("change", (e) => toggle("polygons", e.target.checked));
}

function toggle(name, on) {
  const layer = state.layers[name];
  if (layer) on ? layer.addTo(state.map) : layer.remove();
}

if (new URLSearchParams(location.search).has("token")) {
  // The token is now in an HttpOnly cookie; keep it out of the address bar and history.
  history.replaceState(null, "", location.pathname);
}
wire();
loadStart().catch(showError);
