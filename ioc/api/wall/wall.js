// The IOC wall: snapshots from the API, then live through the event stream.
// No framework and no remote assets: IOC networks are often cut off from the internet.
"use strict";

// Texts are written in English and told through the language's catalog (GET /api/v1/texts/vi;
// ioc/i18n/vi.po). Words chosen by a code the server sends are listed here, marked for the
// catalog's extraction.
const mark = (text) => text;
const SEVERITY_WORDS = {
  up: mark("Up"), warning: mark("Warning"), minor: mark("Minor"), major: mark("Major"),
  critical: mark("Critical"), down: mark("Down"),
};
const EVENT_WORDS = {
  fired: mark("FIRED"), resolved: mark("RESOLVED"), acknowledged: mark("ACKED"), updated: mark("UPDATED"),
  note: mark("NOTE"), grouped: mark("GROUPED"), promoted: mark("PROMOTED"), silenced: mark("SILENCED"),
  unsilenced: mark("UNSILENCED"),
};
const KIND_WORDS = {
  province: mark("province"), department: mark("departments"), district: mark("districts"),
  commune: mark("communes"),
};
const CONNECTION_WORDS = { live: mark("Live"), connecting: mark("Connecting"), down: mark("Disconnected") };
const STALE_WORDS = {
  state_db: mark("the alert database does not answer"), rules_silent: mark("the rule engine is not running"),
  not_hearing: mark("the broker is unreachable"), no_data: mark("no fresh telemetry"),
};

const SEVERITY_RANK = { cleared: 0, indeterminate: 1, warning: 2, minor: 3, major: 4, critical: 5 };
// Map state codes: what a dot's colour means, worst last so it is drawn on top.
const STATE_CODES = ["up", "warning", "minor", "major", "critical", "down"];
const STATE_COLOURS = ["#43a047", "#fdd835", "#ffca28", "#fb8c00", "#e53935", "#b23cfd"];
const STREAM_SILENT_S = 15; // no heartbeat for this long: the stream is down
const RECONNECT_MS = 5000;

const params = new URLSearchParams(location.search);
// The person's choice, else the deployment's language (IOC_LANGUAGE, from /api/v1/me).
let lang = params.get("lang") || localStorage.getItem("ioc.lang") || "vi";
const langChosen = Boolean(params.get("lang") || localStorage.getItem("ioc.lang"));
// Every time is shown in the deployment's zone (IOC_TIMEZONE), whatever this screen's own.
let site = { timezone: "Asia/Ho_Chi_Minh", utc_offset: "+07:00", role: "viewer" };
const locale = () => (lang === "vi" ? "vi-VN" : "en-GB");
const number = (n) => n.toLocaleString(locale());
function clockText(ms, seconds = true) {
  const shape = { timeZone: site.timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (seconds) shape.second = "2-digit";
  return new Intl.DateTimeFormat(locale(), shape).format(new Date(ms));
}
// A wall screen's token (in its address, or pasted once); none when a person signed in, whose
// session cookie the browser sends by itself.
let token = params.get("token") || localStorage.getItem("ioc.token") || "";
let signedIn = false; // the API answered who we are: a token's holder or a person
let texts = {}; // the catalog of `lang`: English text -> its translation
const alsoRender = []; // what other scripts draw again when the language or the data change
const t = (english) => texts[english] || english;
const told = (words, code) => t(words[code] || code);

async function loadTexts() {
  // English is the source: it needs no catalog.
  texts = lang === "en" ? {} : await (await fetch(`/api/v1/texts/${lang}`)).json();
}

// -- state ------------------------------------------------------------------------------
const devices = { ids: [], index: new Map(), names: [], lon: null, lat: null, state: null };
const alerts = new Map(); // open alerts by id
const areaNames = new Map();
let figures = null;
// The alerts' clock minus this browser's: ages are told on the clock alerts are stamped with
// (a demo's simulated clock, or a server whose clock differs from the screen's).
let clockOffsetMs = 0;
let lastBeat = { at: 0, data: null };
let streamLostAt = null;
let source = null;
let ticker = [];

// -- API ----------------------------------------------------------------------------------
async function api(path) {
  const response = await fetch(path, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  if (response.status === 401) {
    signedIn = false;
    showLogin(Boolean(token));
    throw new Error("unauthorized");
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// What a change carries: a token (the wall's, or one typed for the purpose), or for a person
// signed in, the session's CSRF token beside its cookie (which another site's page cannot read).
function changeHeaders(bearer = token) {
  // The API says why it refused in the wall's language.
  const headers = { "Content-Type": "application/json", "Accept-Language": lang };
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  else if (site.csrf) headers["X-CSRF-Token"] = site.csrf;
  return headers;
}

function stateCode(state, worst) {
  if (state === "down") return 5;
  if (!worst) return 0;
  return { warning: 1, indeterminate: 1, minor: 2, major: 3, critical: 4 }[worst] || 0;
}

async function loadSnapshots() {
  const me = await api("/api/v1/me");
  site = me;
  signedIn = true;
  showWho();
  if (!langChosen && lang !== me.language) {
    lang = me.language;
    await loadTexts();
  }
  const overview = await api("/api/v1/overview");
  for (const area of overview.areas) areaNames.set(area.id, area.name);
  const geo = await api("/api/v1/map.geojson");
  const page = await api("/api/v1/alerts?state=firing&state=acknowledged&limit=1000");
  const count = geo.features.length;
  devices.ids = new Array(count);
  devices.names = new Array(count);
  devices.index = new Map();
  devices.lon = new Float64Array(count);
  devices.lat = new Float64Array(count);
  devices.state = new Uint8Array(count);
  geo.features.forEach((f, i) => {
    devices.ids[i] = f.id;
    devices.names[i] = f.properties.name;
    devices.index.set(f.id, i);
    // A device with no known position has no geometry: listed, counted, never drawn.
    [devices.lon[i], devices.lat[i]] = f.geometry ? f.geometry.coordinates : [NaN, NaN];
    devices.state[i] = stateCode(f.properties.state, f.properties.worst_severity);
  });
  alerts.clear();
  for (const alert of page.items) alerts.set(alert.id, alert);
  figures = { figures: overview.figures, classes: overview.classes };
  renderAll();
  map.fit();
  // Follow from the oldest snapshot: replaying a few events twice is harmless.
  return Math.min(overview.event_id, geo.event_id);
}

// -- the stream ---------------------------------------------------------------------------
function connect(fromId) {
  if (source) source.close();
  const auth = token ? `token=${encodeURIComponent(token)}&` : ""; // else the session's cookie
  const url = `/api/v1/stream?${auth}last_event_id=${fromId}`;
  source = new EventSource(url);
  setConnection("connecting");
  source.addEventListener("open", () => setConnection("live"));
  source.addEventListener("error", () => {
    if (source.readyState === EventSource.CLOSED) {
      // The server refused the stream (token revoked, server restarting): start afresh.
      setConnection("down");
      setTimeout(start, RECONNECT_MS);
    } else {
      setConnection("connecting"); // the browser reconnects by itself, with Last-Event-ID
    }
  });
  source.addEventListener("heartbeat", (e) => {
    lastBeat = { at: Date.now(), data: JSON.parse(e.data) };
    if (typeof lastBeat.data.alerts_now_ms === "number") {
      const before = clockOffsetMs;
      clockOffsetMs = lastBeat.data.alerts_now_ms - lastBeat.at;
      if (Math.abs(clockOffsetMs - before) > 30000) renderIncidents(); // ages on that clock
    }
    setConnection("live");
    renderStale();
  });
  source.addEventListener("device", (e) => {
    const d = JSON.parse(e.data);
    const i = devices.index.get(d.id);
    if (i !== undefined) devices.state[i] = stateCode(d.state, d.worst_severity);
    map.dirty = true;
  });
  source.addEventListener("figures", (e) => {
    figures = JSON.parse(e.data);
    renderTiles();
    renderTrend(); // the strip's last point is these same figures
  });
  source.addEventListener("transition", (e) => {
    const transition = JSON.parse(e.data);
    const alert = transition.alert;
    if (alert.state === "resolved") alerts.delete(alert.id);
    else alerts.set(alert.id, alert);
    ticker.unshift(transition);
    ticker = ticker.slice(0, 30);
    scheduleLists();
  });
  source.addEventListener("reset", () => start());
}

function setConnection(state) {
  const el = document.getElementById("connection");
  if (state === "live") streamLostAt = null;
  else if (streamLostAt === null) streamLostAt = Date.now();
  el.dataset.state = state;
  el.textContent = told(CONNECTION_WORDS, state);
}

async function start() {
  try {
    const fromId = await loadSnapshots();
    loadTrend();
    loadBoard();
    connect(fromId);
  } catch (error) {
    if (error.message !== "unauthorized") {
      setConnection("down");
      setTimeout(start, RECONNECT_MS);
    }
  }
}

// -- rendering ----------------------------------------------------------------------------
let listsPending = false;
function scheduleLists() {
  if (listsPending) return;
  listsPending = true;
  requestAnimationFrame(() => {
    listsPending = false;
    renderIncidents();
    renderTicker();
    renderTiles();
  });
}

function renderAll() {
  document.documentElement.lang = lang;
  document.getElementById("lang").textContent = lang === "vi" ? "EN" : "VI";
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  document.getElementById("legend").innerHTML = STATE_CODES.map(
    // A class per state, not a style attribute: the page's Content-Security-Policy allows none.
    (code) => `<span class="dot-${code}">${told(SEVERITY_WORDS, code)}</span>`,
  ).join("");
  const connection = document.getElementById("connection");
  connection.textContent = told(CONNECTION_WORDS, connection.dataset.state);
  renderTiles();
  renderIncidents();
  renderTicker();
  renderStale();
  renderTrend();
  if (board) renderBoard();
  for (const render of alsoRender) render();
  map.dirty = true;
}

function tile(label, value, total, tone, deviceClass) {
  const of = total === undefined ? "" : `<small>/${number(total)}</small>`;
  const listed = deviceClass === undefined ? "" : ` data-class="${escapeHtml(deviceClass)}"`;
  return `<div class="tile ${tone || ""}"${listed}><div class="label">${escapeHtml(label)}</div>` +
    `<div class="value">${number(value)}${of}</div></div>`;
}

function renderTiles() {
  if (!figures) return;
  const f = figures.figures;
  const parts = [];
  const kinds = Object.keys(f.vc_online_by_area_kind);
  const order = ["province", "department", "district", "commune"];
  kinds.sort((a, b) => order.indexOf(a) - order.indexOf(b));
  for (const kind of kinds) {
    const v = f.vc_online_by_area_kind[kind];
    parts.push(tile(`${t("Video-conference points online")} ${told(KIND_WORDS, kind)}`, v.online, v.total, v.online < v.total ? "warn" : "", "vc"));
  }
  const bts = f.bts_power;
  parts.push(tile(t("BTS on mains"), bts.on_mains, bts.total, "", "bts"));
  parts.push(tile(t("BTS on battery"), bts.on_battery, undefined, bts.on_battery ? "warn" : "", "bts"));
  parts.push(tile(t("BTS down"), bts.down, undefined, bts.down ? "bad" : "", "bts"));
  const links = f.commune_links;
  parts.push(tile(t("Commune links up"), links.up, links.total, links.up < links.total ? "warn" : "", "netgw"));
  const roots = [...alerts.values()].filter((a) => !a.root_id || !alerts.has(a.root_id)).length;
  parts.push(tile(t("Open incidents"), roots, undefined, roots ? "bad" : "", ""));
  document.getElementById("tiles").innerHTML = parts.join("");
}

function deviceName(id) {
  const i = devices.index.get(id);
  return i === undefined ? id : devices.names[i];
}

function age(iso) {
  const minutes = Math.max(0, Math.floor((Date.now() + clockOffsetMs - Date.parse(iso)) / 60000));
  if (minutes < 60) return `${minutes} ${t("min")}`;
  if (minutes < 1440) return `${Math.floor(minutes / 60)} ${t("h")} ${minutes % 60} ${t("min")}`;
  return `${Math.floor(minutes / 1440)} ${t("d")}`;
}

function renderIncidents() {
  const children = new Map();
  const roots = [];
  for (const alert of alerts.values()) {
    if (alert.root_id && alerts.has(alert.root_id)) {
      if (!children.has(alert.root_id)) children.set(alert.root_id, []);
      children.get(alert.root_id).push(alert);
    } else {
      roots.push(alert);
    }
  }
  roots.sort(
    (a, b) => SEVERITY_RANK[b.severity] - SEVERITY_RANK[a.severity] || Date.parse(a.opened_at) - Date.parse(b.opened_at),
  );
  const items = roots.slice(0, 200).map((alert) => {
    const under = children.get(alert.id) || [];
    const folded = under.length
      ? `<details><summary>+${under.length} ${t("affected devices")}</summary><ul>${under
          .map((c) => `<li>${escapeHtml(deviceName(c.device_id))}: ${escapeHtml(c.title[lang] || c.title.en)}</li>`)
          .join("")}</ul></details>`
      : "";
    const flags = (alert.state === "acknowledged" ? `<span class="acked">✔ ${t("acknowledged")}</span>` : "") +
      (alert.silenced ? `<span class="acked">${t("maintenance")}</span>` : "");
    return `<li class="incident sev-${alert.severity}" data-alert-id="${alert.id}" data-device-id="${escapeHtml(alert.device_id)}" data-state="${alert.state}">` +
      `<div class="top"><span class="title">${escapeHtml(alert.title[lang] || alert.title.en)}${flags}</span>` +
      `<span class="age">${age(alert.opened_at)}</span></div>` +
      `<div class="where">${escapeHtml(deviceName(alert.device_id))} · ${escapeHtml(areaNames.get(alert.area_id) || alert.area_id)}</div>` +
      folded + "</li>";
  });
  document.getElementById("incidents").innerHTML = items.join("");
  document.getElementById("incident-count").textContent = `(${roots.length})`;
}

function renderTicker() {
  document.getElementById("ticker").innerHTML = ticker
    .map((tr) => {
      const time = clockText(Date.parse(tr.at));
      const title = tr.alert.title[lang] || tr.alert.title.en;
      return `<span class="sev-${tr.alert.severity}"><time>${time}</time>${told(EVENT_WORDS, tr.event)} · ` +
        `${escapeHtml(deviceName(tr.alert.device_id))}: ${escapeHtml(title)}</span>`;
    })
    .join("");
}

function renderStale() {
  const el = document.getElementById("stale");
  const now = Date.now();
  let reason = null;
  if (streamLostAt !== null && now - streamLostAt > 10000) {
    reason = `${t("stream lost since")} ${clockText(streamLostAt)}`;
  } else if (lastBeat.at && now - lastBeat.at > STREAM_SILENT_S * 1000) {
    reason = `${t("stream lost since")} ${clockText(lastBeat.at)}`;
  } else if (lastBeat.data && lastBeat.data.stale) {
    reason = lastBeat.data.reasons.map((code) => told(STALE_WORDS, code)).join(", ");
  }
  el.hidden = reason === null;
  el.textContent = reason === null ? "" : `⚠ ${t("STALE DATA")}: ${reason}`;
  document.body.dataset.stale = reason === null ? "false" : "true";
}

function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}

// -- the map: a canvas, devices binned into screen cells so 100,000 stay smooth -------------
const map = {
  canvas: document.getElementById("map"),
  scale: 1, tx: 0, ty: 0, dirty: true, cosLat: 1, lat0: 0, lon0: 0, fittedTo: "", drawnAt: "", moved: false, dragged: false,

  project(i) {
    return [(devices.lon[i] - this.lon0) * this.cosLat, this.lat0 - devices.lat[i]];
  },

  fit() {
    const n = devices.ids.length;
    if (!n) return;
    let minLon = Infinity, maxLon = -Infinity, minLat = Infinity, maxLat = -Infinity;
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(devices.lon[i])) continue;
      minLon = Math.min(minLon, devices.lon[i]); maxLon = Math.max(maxLon, devices.lon[i]);
      minLat = Math.min(minLat, devices.lat[i]); maxLat = Math.max(maxLat, devices.lat[i]);
    }
    if (minLon === Infinity) return; // nothing placed yet
    this.lat0 = (minLat + maxLat) / 2;
    this.lon0 = (minLon + maxLon) / 2;
    this.cosLat = Math.cos((this.lat0 * Math.PI) / 180);
    // Margins keep edge devices clear of the border and of the legend at the bottom.
    const pad = 30, legend = 40;
    const w = this.canvas.clientWidth - 2 * pad, h = this.canvas.clientHeight - 2 * pad - legend;
    const spanX = Math.max((maxLon - minLon) * this.cosLat, 1e-4), spanY = Math.max(maxLat - minLat, 1e-4);
    this.scale = Math.min(w / spanX, h / spanY);
    this.tx = pad + w / 2;
    this.ty = pad + h / 2;
    this.fittedTo = `${this.canvas.clientWidth}x${this.canvas.clientHeight}`;
    this.moved = false;
    this.dirty = true;
  },

  draw() {
    const canvas = this.canvas, dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    // The layout settles after the first data arrives: follow it until someone pans or zooms.
    if (!this.moved && this.fittedTo !== `${w}x${h}`) this.fit();
    if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(h * dpr)) {
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const dot = devices.ids.length < 1000 ? 5 : 2.5; // a small fleet gets dots seen from afar
    const cell = dot < 5 ? 7 : 12, cols = Math.ceil(w / cell) + 1, rows = Math.ceil(h / cell) + 1;
    const counts = new Uint32Array(cols * rows), worst = new Uint8Array(cols * rows);
    const n = devices.ids.length;
    let down = 0, alerting = 0;
    for (let i = 0; i < n; i++) {
      const s = devices.state[i];
      if (s === 5) down++;
      if (s > 0) alerting++;
      const x = (devices.lon[i] - this.lon0) * this.cosLat * this.scale + this.tx;
      const y = (this.lat0 - devices.lat[i]) * this.scale + this.ty;
      if (!(x >= 0 && y >= 0 && x < w && y < h)) continue; // off screen, or no position (NaN)
      const k = Math.floor(y / cell) * cols + Math.floor(x / cell);
      counts[k]++;
      if (s > worst[k]) worst[k] = s;
    }
    // One path per state, drawn from "up" to "down" so trouble is never hidden under green.
    for (let code = 0; code < STATE_CODES.length; code++) {
      ctx.beginPath();
      for (let k = 0; k < counts.length; k++) {
        if (!counts[k] || worst[k] !== code) continue;
        const cx = (k % cols) * cell + cell / 2, cy = Math.floor(k / cols) * cell + cell / 2;
        const r = (counts[k] === 1 ? dot : Math.min(cell, dot + Math.log2(counts[k]))) + (code ? 2 : 0);
        ctx.moveTo(cx + r, cy);
        ctx.arc(cx, cy, r, 0, 2 * Math.PI);
      }
      ctx.fillStyle = STATE_COLOURS[code];
      ctx.fill();
    }
    canvas.dataset.devices = String(n);
    canvas.dataset.down = String(down);
    canvas.dataset.alerting = String(alerting);
    this.drawnAt = `${w}x${h}`;
    this.dirty = false;
  },

  // The device drawn nearest a point of the canvas, within a dot's reach; null if none.
  deviceAt(px, py) {
    let best = null, bestDistance = 12 * 12;
    for (let i = 0; i < devices.ids.length; i++) {
      const x = (devices.lon[i] - this.lon0) * this.cosLat * this.scale + this.tx;
      const y = (this.lat0 - devices.lat[i]) * this.scale + this.ty;
      const distance = (x - px) ** 2 + (y - py) ** 2;
      if (distance < bestDistance) [best, bestDistance] = [i, distance];
    }
    return best;
  },

  // Frame some devices (an area found by the search): the map zooms to them.
  fitTo(indices) {
    const placed = indices.filter((i) => !Number.isNaN(devices.lon[i]));
    if (!placed.length) return;
    const xs = placed.map((i) => (devices.lon[i] - this.lon0) * this.cosLat);
    const ys = placed.map((i) => this.lat0 - devices.lat[i]);
    const w = this.canvas.clientWidth - 80, h = this.canvas.clientHeight - 120;
    const spanX = Math.max(Math.max(...xs) - Math.min(...xs), 1e-3);
    const spanY = Math.max(Math.max(...ys) - Math.min(...ys), 1e-3);
    this.scale = Math.min(w / spanX, h / spanY);
    this.tx = this.canvas.clientWidth / 2 - ((Math.max(...xs) + Math.min(...xs)) / 2) * this.scale;
    this.ty = (this.canvas.clientHeight - 40) / 2 - ((Math.max(...ys) + Math.min(...ys)) / 2) * this.scale;
    this.moved = true;
    this.dirty = true;
  },

  zoomAt(x, y, factor) {
    this.tx = x - (x - this.tx) * factor;
    this.ty = y - (y - this.ty) * factor;
    this.scale *= factor;
    this.moved = true;
    this.dirty = true;
  },
};

function frame() {
  const size = `${map.canvas.clientWidth}x${map.canvas.clientHeight}`;
  if (map.dirty || size !== map.drawnAt) map.draw();
  requestAnimationFrame(frame);
}

map.canvas.addEventListener("wheel", (e) => {
  e.preventDefault();
  map.zoomAt(e.offsetX, e.offsetY, e.deltaY < 0 ? 1.25 : 0.8);
}, { passive: false });
let drag = null;
map.canvas.addEventListener("mousedown", (e) => {
  drag = { x: e.clientX, y: e.clientY };
  map.dragged = false;
});
window.addEventListener("mouseup", () => (drag = null));
window.addEventListener("mousemove", (e) => {
  if (!drag) return;
  map.dragged = true;
  map.tx += e.clientX - drag.x;
  map.ty += e.clientY - drag.y;
  drag = { x: e.clientX, y: e.clientY };
  map.moved = true;
  map.dirty = true;
});
window.addEventListener("resize", () => (map.dirty = true));
map.canvas.addEventListener("dblclick", () => map.fit());

// -- login, language, clock ---------------------------------------------------------------
const loginDialog = document.getElementById("login");

function showLogin(failed) {
  const error = document.getElementById("login-error");
  error.hidden = !failed;
  error.textContent = t("That token is not valid or was revoked.");
  if (!loginDialog.open) loginDialog.showModal();
}

// The person's name and the way out, or the way in (a wall screen keeps its viewer token).
function showWho() {
  const person = Boolean(site.username);
  const who = document.getElementById("who");
  who.textContent = who.title = signedIn ? site.name : "";
  document.getElementById("sign-out").hidden = !person;
  document.getElementById("sign-in").hidden = person;
}

document.getElementById("sign-in").addEventListener("click", () => showLogin(false));

document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const username = document.getElementById("login-username").value.trim();
  const password = document.getElementById("login-password");
  const pasted = document.getElementById("login-token").value.trim();
  const error = document.getElementById("login-error");
  if (username) {
    const response = await fetch("/api/v1/session", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept-Language": lang }, // refusals in it
      body: JSON.stringify({ username, password: password.value }),
    });
    if (!response.ok) {
      error.textContent = problemText(await response.json());
      error.hidden = false;
      return;
    }
    // From now on the person acts, not the screen's token.
    token = "";
    localStorage.removeItem("ioc.token");
    if (params.has("token")) {
      params.delete("token");
      history.replaceState(null, "", `${location.pathname}?${params}`);
    }
  } else if (pasted) {
    token = pasted;
    localStorage.setItem("ioc.token", token);
  } else {
    return;
  }
  password.value = "";
  loginDialog.close();
  start();
});

document.getElementById("sign-out").addEventListener("click", async () => {
  await fetch("/api/v1/session", { method: "DELETE", headers: changeHeaders("") });
  if (source) source.close();
  site = { ...site, username: null, csrf: null, role: "viewer" };
  signedIn = false;
  showWho();
  showLogin(false);
});

document.getElementById("lang").addEventListener("click", async () => {
  lang = lang === "vi" ? "en" : "vi";
  localStorage.setItem("ioc.lang", lang);
  await loadTexts();
  renderAll();
});

function tick() {
  document.getElementById("clock").textContent = `${clockText(Date.now())} UTC${site.utc_offset}`;
  renderStale();
}
tick();
setInterval(tick, 1000);
setInterval(renderIncidents, 30000); // ages move on

// -- the 24-hour trend strip ----------------------------------------------------------------
let trend = null;
const TREND_EVERY_MS = 5 * 60 * 1000;

async function loadTrend() {
  try {
    trend = await api("/api/v1/overview/trend?hours=24&step_min=10");
    renderTrend();
  } catch (error) {
    // The strip waits for the next round; the live tiles do not depend on it.
  }
}

function sparkline(label, values, total, warn) {
  const top = Math.max(total, 1);
  const step = values.length > 1 ? 100 / (values.length - 1) : 100;
  const points = values.map((v, i) => `${(i * step).toFixed(2)},${(30 - (v / top) * 28).toFixed(2)}`);
  const last = values.length ? values[values.length - 1] : 0;
  return `<div class="spark ${warn ? "warn" : ""}"><div class="label">${escapeHtml(label)}: ` +
    `${number(last)}/${number(total)}</div>` +
    `<svg viewBox="0 0 100 32" preserveAspectRatio="none"><polyline points="${points.join(" ")}"></polyline></svg></div>`;
}

// The figures of now as the strip counts them: from the tiles' own figures, so the two never
// disagree (the history is fetched every few minutes; now moves with every event).
function livePoint() {
  if (!figures) return null;
  const f = figures.figures;
  const vc = Object.values(f.vc_online_by_area_kind);
  return {
    links_up: f.commune_links.up, links: f.commune_links.total,
    vc_online: vc.reduce((n, v) => n + v.online, 0), vc: vc.reduce((n, v) => n + v.total, 0),
    bts_on_battery: f.bts_power.on_battery, bts: f.bts_power.total,
  };
}

function renderTrend() {
  if (!trend || !trend.length) return;
  const now = livePoint();
  const points = now ? [...trend.slice(0, -1), now] : trend;
  const last = points[points.length - 1];
  document.getElementById("trend").innerHTML = [
    sparkline(t("Links up, 24 hours"), points.map((p) => p.links_up), last.links, last.links_up < last.links),
    sparkline(t("VC points online, 24 hours"), points.map((p) => p.vc_online), last.vc, last.vc_online < last.vc),
    sparkline(t("BTS on battery, 24 hours"), points.map((p) => p.bts_on_battery), last.bts, last.bts_on_battery > 0),
  ].join("");
}
setInterval(() => { if (signedIn) loadTrend(); }, TREND_EVERY_MS);

// -- the readiness board of a meeting about to start -----------------------------------------
let board = null;
const BOARD_LEAD_MS = 30 * 60 * 1000;
const BOARD_EVERY_MS = 60 * 1000;
const BOARD_LISTED = 12;

async function loadBoard() {
  try {
    const now = Date.now() + clockOffsetMs; // meetings are on the alerts' clock
    const meetings = await api("/api/v1/meetings?days=1");
    const next = meetings.find((m) => m.starts_at_ms - BOARD_LEAD_MS <= now && now < m.ends_at_ms);
    board = next ? await api(`/api/v1/meetings/${next.id}/readiness`) : null;
  } catch (error) {
    return; // the board waits for the next round
  }
  renderBoard();
}

function renderBoard() {
  const element = document.getElementById("meeting");
  if (!board) {
    element.hidden = true;
    return;
  }
  const at = clockText(board.meeting.starts_at_ms, false);
  const missing = board.board.filter((p) => !p.ready);
  const listed = missing.slice(0, BOARD_LISTED).map(
    (p) => `<li>${escapeHtml(deviceName(p.point))}: ${escapeHtml(p.reasons.join(", "))}</li>`,
  );
  if (missing.length > BOARD_LISTED) listed.push(`<li>+${missing.length - BOARD_LISTED}</li>`);
  element.innerHTML = `<h2>${escapeHtml(board.meeting.title)} · ${t("meeting at")} ${at}</h2>` +
    `<div class="ready ${missing.length ? "warn" : ""}">${board.ready}/${board.points} ` +
    `<small>${t("points ready")}</small></div><ul>${listed.join("")}</ul>`;
  element.hidden = false;
}
setInterval(() => { if (signedIn) loadBoard(); }, BOARD_EVERY_MS);

// -- planning a meeting (an operator's token: the wall's own, or one typed in the form) ------
const planDialog = document.getElementById("plan");

document.getElementById("plan-open").addEventListener("click", () => {
  const areas = [["", t("Whole province")], ...[...areaNames].sort((a, b) => a[1].localeCompare(b[1]))];
  document.getElementById("plan-area").innerHTML = areas.map(
    ([id, name]) => `<option value="${escapeHtml(id)}">${escapeHtml(name)}</option>`,
  ).join("");
  document.getElementById("plan-error").hidden = true;
  if (!planDialog.open) planDialog.showModal();
});
document.getElementById("plan-cancel").addEventListener("click", () => planDialog.close());

document.getElementById("plan-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = (id) => document.getElementById(id).value.trim();
  const points = value("plan-points").split(",").map((p) => p.trim()).filter(Boolean);
  const plan = {
    title: value("plan-title"),
    starts_at: value("plan-start"), // no offset: the API reads it in the deployment's zone
    duration_min: Number(value("plan-duration")),
  };
  if (points.length) plan.points = points;
  else if (value("plan-area")) plan.area = value("plan-area");
  const error = document.getElementById("plan-error");
  try {
    const response = await fetch("/api/v1/meetings", {
      method: "POST",
      headers: changeHeaders(value("plan-token") || token),
      body: JSON.stringify(plan),
    });
    if (response.ok) {
      planDialog.close();
      loadBoard();
      return;
    }
    error.textContent = response.status === 403 || response.status === 401
      ? t("Planning a meeting needs an operator token (ioc token create --role operator).")
      : `${t("The meeting was not planned")}: ${problemText(await response.json())}`;
  } catch (failure) {
    error.textContent = `${t("The meeting was not planned")}: ${failure.message}`;
  }
  error.hidden = false;
});

function problemText(problem) {
  const detail = problem.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => `${(d.loc || []).slice(1).join(".")}: ${d.msg}`).join("; ");
  return JSON.stringify(problem);
}

// For tests and for operators poking at the console.
window.iocWall = {
  stateOf: (id) => STATE_CODES[devices.state[devices.index.get(id)]],
  openAlerts: () => [...alerts.values()],
};

loadTexts().finally(() => {
  renderAll();
  requestAnimationFrame(frame);
  if (token) localStorage.setItem("ioc.token", token);
  start(); // with the token, else with a session's cookie if this browser has one
});
