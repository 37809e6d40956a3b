// What an operator opens from the wall: search by name, a device's panel (identity, place,
// dependencies, readings, charts over 24 hours and 7 days, alert history) and, for an operator,
// acknowledge, note and resolve. Loaded after wall.js, whose helpers it uses.
"use strict";

const PANEL_SPANS = {
  "24h": { label: mark("24 hours"), ms: 24 * 3600e3, step_s: 300 },
  "7d": { label: mark("7 days"), ms: 7 * 24 * 3600e3, step_s: 1800 },
};
const CHARTED = 6; // metrics charted at most, in profile order
const SEARCH_WAIT_MS = 200;
const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 };
const ACTION_WORDS = { ack: mark("Acknowledge"), note: mark("Add note"), resolve: mark("Resolve") };
const STATE_WORDS = { firing: mark("firing"), acknowledged: mark("acknowledged"), resolved: mark("resolved") };

const panel = {
  element: document.getElementById("panel"),
  detail: null,
  history: [],
  span: "24h",
  charts: {}, // metric -> series as the API answered
  unfolded: new Set(), // the alerts whose history is open: kept open when the panel redraws
};

const canAct = () => ROLE_RANK[site.role] >= ROLE_RANK.operator;

// A moment of the last days in the deployment's zone: 06:42 07/12 (Vietnamese), 07/12 06:42.
function dayText(ms) {
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: site.timezone, day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23",
  }).formatToParts(new Date(ms)).map((part) => [part.type, part.value]));
  const time = `${parts.hour}:${parts.minute}`, day = `${parts.day}/${parts.month}`;
  return lang === "vi" ? `${time} ${day}` : `${day} ${time}`;
}

// -- search ---------------------------------------------------------------------------------
const searchBox = document.getElementById("search");
const searchResults = document.getElementById("search-results");
let searchTimer = null;

searchBox.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(runSearch, SEARCH_WAIT_MS);
});
searchBox.addEventListener("keydown", (e) => {
  if (e.key === "Escape") closeSearch();
  if (e.key === "Enter") {
    const first = searchResults.querySelector("button");
    if (first) first.click();
  }
});

async function runSearch() {
  const asked = searchBox.value.trim();
  if (!asked) return closeSearch();
  const found = await api(`/api/v1/search?q=${encodeURIComponent(asked)}&limit=8`);
  if (searchBox.value.trim() !== asked) return; // typed on since
  const rows = [
    ...found.devices.map((d) => `<li><button type="button" data-device-id="${escapeHtml(d.id)}">` +
      `<b>${escapeHtml(d.name)}</b> <small>${escapeHtml(d.device_class)} · ${escapeHtml(d.path.join(" › "))}</small></button></li>`),
    ...found.areas.map((a) => `<li><button type="button" data-area-id="${escapeHtml(a.id)}">` +
      `<b>${escapeHtml(a.name)}</b> <small>${escapeHtml([...a.path, a.kind].join(" › "))}</small></button></li>`),
  ];
  searchResults.innerHTML = rows.length ? rows.join("") : `<li class="none">${escapeHtml(t("Nothing found"))}</li>`;
  searchResults.hidden = false;
}

function closeSearch() {
  searchResults.hidden = true;
  searchResults.innerHTML = "";
}

searchResults.addEventListener("click", async (e) => {
  const button = e.target.closest("button");
  if (!button) return;
  closeSearch();
  searchBox.value = "";
  if (button.dataset.deviceId) openPanel(button.dataset.deviceId);
  else if (button.dataset.areaId) showArea(button.dataset.areaId);
});

// An area found: the map frames its devices.
async function showArea(areaId) {
  const page = await api(`/api/v1/devices?area=${encodeURIComponent(areaId)}&limit=10000`);
  map.fitTo(page.items.map((d) => devices.index.get(d.id)).filter((i) => i !== undefined));
}

// -- opening the panel: from the search, a dot, an incident, a tile's list ----------------------
map.canvas.addEventListener("click", (e) => {
  if (map.dragged) return; // the end of a pan, not a click
  const i = map.deviceAt(e.offsetX, e.offsetY);
  if (i !== null) openPanel(devices.ids[i]);
});
document.getElementById("incidents").addEventListener("click", (e) => {
  if (e.target.closest("summary")) return; // unfolding the affected devices
  const item = e.target.closest("[data-device-id]");
  if (item) openPanel(item.dataset.deviceId);
});
// A figure's tile: the open alerts of its devices, to open one.
document.getElementById("tiles").addEventListener("click", (e) => {
  const tile = e.target.closest(".tile[data-class]");
  if (!tile) return;
  const wanted = tile.dataset.class;
  const open = [...alerts.values()].filter((a) => !wanted || a.device_class === wanted);
  const rows = open.map((a) => `<li><button type="button" data-device-id="${escapeHtml(a.device_id)}">` +
    `<b>${escapeHtml(deviceName(a.device_id))}</b> <small>${escapeHtml(a.title[lang] || a.title.en)}</small></button></li>`);
  searchResults.innerHTML = rows.length ? rows.join("") : `<li class="none">${escapeHtml(t("No open alerts"))}</li>`;
  searchResults.hidden = false;
});
alsoRender.push(() => renderPanel());
document.getElementById("panel-close").addEventListener("click", () => closePanel());
document.addEventListener("keydown", (e) => {
  if (e.key === "Escape" && !panel.element.hidden) closePanel();
});

function closePanel() {
  panel.element.hidden = true;
  panel.detail = null;
}

async function openPanel(deviceId) {
  const id = encodeURIComponent(deviceId);
  const [detail, history] = await Promise.all([
    api(`/api/v1/devices/${id}`),
    api(`/api/v1/alerts?device=${id}&limit=20`),
  ]);
  panel.detail = detail;
  panel.history = history.items;
  panel.charts = {};
  panel.unfolded.clear();
  // Under the header, whose search, clock and language stay at hand.
  panel.element.style.top = `${document.querySelector("header").getBoundingClientRect().bottom}px`;
  panel.element.hidden = false;
  renderPanel();
  loadCharts();
}

async function reloadHistory() {
  if (!panel.detail) return;
  const id = encodeURIComponent(panel.detail.device.id);
  const history = (await api(`/api/v1/alerts?device=${id}&limit=20`)).items;
  await Promise.all(history.filter((a) => panel.unfolded.has(String(a.id))).map(async (a) => {
    a.history = (await api(`/api/v1/alerts/${a.id}`)).history;
  }));
  panel.history = history;
  renderPanel();
}

function renderPanel() {
  if (!panel.detail) return;
  const { device, last, telemetry_error: error, area_path: path } = panel.detail;
  const place = device.lat === null ? t("position unknown") : `${number(device.lat)}, ${number(device.lon)}`;
  const upstream = device.depends_on.length
    ? device.depends_on.map((id) => `<button type="button" class="link" data-device-id="${escapeHtml(id)}">${escapeHtml(deviceName(id))}</button>`).join(", ")
    : "–";
  const readings = last
    ? Object.entries(last.metrics).map(([metric, value]) => `<tr><th>${escapeHtml(metric)}</th>` +
        `<td>${escapeHtml(typeof value === "number" ? number(value) : String(value))} ${escapeHtml(unitOf(metric))}</td></tr>`).join("") +
      `<tr><th>${escapeHtml(t("at"))}</th><td>${escapeHtml(dayText(last.at_ms))}</td></tr>`
    : `<tr><td colspan="2">${escapeHtml(error || t("No readings yet"))}</td></tr>`;
  const spans = Object.entries(PANEL_SPANS).map(([key, span]) =>
    `<button type="button" data-span="${key}" aria-pressed="${key === panel.span}">${escapeHtml(t(span.label))}</button>`).join("");
  panel.element.querySelector(".panel-body").innerHTML =
    `<h2 id="panel-title">${escapeHtml(device.name)}</h2>` +
    `<p class="identity">${escapeHtml(device.id)} · ${escapeHtml(device.device_class)} · ` +
    `<span class="state-${device.state}">${escapeHtml(told(SEVERITY_WORDS, device.state === "down" ? "down" : device.worst_severity || "up"))}</span></p>` +
    `<dl><dt>${escapeHtml(t("Area"))}</dt><dd>${escapeHtml(path.join(" › "))}</dd>` +
    `<dt>${escapeHtml(t("Position"))}</dt><dd>${escapeHtml(place)}</dd>` +
    `<dt>${escapeHtml(t("Reached through"))}</dt><dd>${upstream}</dd></dl>` +
    `<h3>${escapeHtml(t("Latest readings"))}</h3><table class="readings">${readings}</table>` +
    `<h3>${escapeHtml(t("Charts"))} <span class="spans">${spans}</span></h3>` +
    `<div id="panel-charts" class="charts">${chartsHtml()}</div>` +
    `<h3>${escapeHtml(t("Alert history"))}</h3><ol class="history">${historyHtml()}</ol>`;
}

function unitOf(metric) {
  const spec = panel.detail.metrics.find((m) => m.name === metric);
  return spec ? spec.unit : "";
}

function historyHtml() {
  if (!panel.history.length) return `<li>${escapeHtml(t("No alerts"))}</li>`;
  const notePlaceholder = t("Note (optional for acknowledge and resolve)");
  return panel.history.map((alert) => {
    const open = alert.state !== "resolved";
    const actions = open && canAct()
      ? `<div class="actions" data-alert-id="${alert.id}">` +
        `<input class="note" maxlength="500" placeholder="${escapeHtml(notePlaceholder)}">` +
        Object.entries(ACTION_WORDS)
          .filter(([action]) => action !== "ack" || alert.state === "firing")
          .map(([action, word]) => `<button type="button" data-action="${action}">${escapeHtml(t(word))}</button>`).join("") +
        `<p class="error" hidden role="alert"></p></div>`
      : "";
    const trail = trailHtml(alert.history || []);
    return `<li class="sev-${alert.severity}" data-alert-id="${alert.id}">` +
      `<div class="top"><b>${escapeHtml(alert.title[lang] || alert.title.en)}</b> ` +
      `<small>#${alert.id} · ${escapeHtml(told(STATE_WORDS, alert.state))} · ${escapeHtml(dayText(Date.parse(alert.opened_at)))}</small></div>` +
      `<details data-alert-id="${alert.id}"${panel.unfolded.has(String(alert.id)) ? " open" : ""}><summary>${escapeHtml(t("History"))}</summary><ol class="trail">${trail}</ol></details>` +
      actions + "</li>";
  }).join("");
}

panel.element.addEventListener("click", async (e) => {
  const span = e.target.closest("[data-span]");
  if (span) {
    panel.span = span.dataset.span;
    renderPanel();
    loadCharts();
    return;
  }
  const linked = e.target.closest("button[data-device-id]");
  if (linked) return openPanel(linked.dataset.deviceId);
  const action = e.target.closest("button[data-action]");
  if (action) act(action.closest(".actions"), action.dataset.action);
});

// A history opened: its transitions, with who did what.
panel.element.addEventListener("toggle", async (e) => {
  const details = e.target;
  if (!details.dataset.alertId) return;
  if (!details.open) {
    panel.unfolded.delete(details.dataset.alertId);
    return;
  }
  panel.unfolded.add(details.dataset.alertId);
  const found = await api(`/api/v1/alerts/${details.dataset.alertId}`);
  const alert = panel.history.find((a) => String(a.id) === details.dataset.alertId);
  if (alert) alert.history = found.history;
  details.querySelector(".trail").innerHTML = trailHtml(found.history);
}, true);

// An alert's transitions: when, what, who, and the note.
function trailHtml(steps) {
  return steps.map((step) =>
    `<li>${escapeHtml(dayText(step.at_ms))} ${escapeHtml(told(EVENT_WORDS, step.event))} · ${escapeHtml(step.actor)}` +
    (step.note ? ` — ${escapeHtml(step.note)}` : "") + "</li>").join("");
}

async function act(box, action) {
  const note = box.querySelector(".note").value.trim();
  const error = box.querySelector(".error");
  if (action === "note" && !note) {
    error.textContent = t("Write the note first");
    error.hidden = false;
    return;
  }
  const response = await fetch(`/api/v1/alerts/${box.dataset.alertId}/${action}`, {
    method: "POST",
    headers: changeHeaders(),
    body: JSON.stringify(note ? { note } : {}),
  });
  if (!response.ok) {
    error.textContent = `${t("Not done")}: ${problemText(await response.json())}`;
    error.hidden = false;
    return;
  }
  await reloadHistory();
}

// -- charts: downsampled by the API (about 300 points a span), drawn as SVG ------------------
// The numbers a device reports (those of its latest reading; else its class's), at most CHARTED.
function charted(detail) {
  const reported = detail.last ? detail.last.metrics : {};
  const numbers = detail.metrics.filter((m) => m.type === "number");
  const sent = numbers.filter((m) => m.name in reported);
  return (sent.length ? sent : numbers).slice(0, CHARTED);
}

async function loadCharts() {
  const detail = panel.detail;
  const span = PANEL_SPANS[panel.span];
  const end = Date.now() + clockOffsetMs; // the alerts' clock: a demo's, or the server's
  const start = new Date(end - span.ms).toISOString();
  const numbers = charted(detail);
  await Promise.all(numbers.map(async (m) => {
    const id = encodeURIComponent(detail.device.id);
    try {
      panel.charts[m.name] = await api(
        `/api/v1/devices/${id}/series/${encodeURIComponent(m.name)}?start=${start}&end=${new Date(end).toISOString()}&step_s=${span.step_s}`,
      );
    } catch (failure) {
      panel.charts[m.name] = { metric: m.name, unit: m.unit, points: [], failed: failure.message };
    }
  }));
  if (panel.detail !== detail) return; // another device opened meanwhile
  const element = document.getElementById("panel-charts");
  if (element) element.innerHTML = chartsHtml();
}

function chartsHtml() {
  const numbers = charted(panel.detail);
  if (!numbers.length) return `<p>${escapeHtml(t("No numeric metrics"))}</p>`;
  return numbers.map((m) => chartHtml(m, panel.charts[m.name])).join("");
}

function chartHtml(metric, series) {
  const head = `<div class="chart-label">${escapeHtml(metric.name)} <small>${escapeHtml(metric.unit)}</small></div>`;
  if (!series) return `<figure class="chart">${head}<p>…</p></figure>`;
  if (series.failed) return `<figure class="chart">${head}<p class="error">${escapeHtml(series.failed)}</p></figure>`;
  const points = series.points.filter(([, v]) => typeof v === "number");
  if (!points.length) return `<figure class="chart">${head}<p>${escapeHtml(t("No readings in this span"))}</p></figure>`;
  const W = 600, H = 120, left = 44, bottom = 18;
  const lo = Math.min(...points.map(([, v]) => v)), hi = Math.max(...points.map(([, v]) => v));
  const range = hi - lo || 1;
  const x = (ts) => left + ((ts - series.start_ms) / (series.end_ms - series.start_ms)) * (W - left - 4);
  const y = (v) => 4 + (1 - (v - lo) / range) * (H - bottom - 8);
  const line = points.map(([ts, v]) => `${x(ts).toFixed(1)},${y(v).toFixed(1)}`).join(" ");
  const last = points[points.length - 1][1];
  return `<figure class="chart">${head}` +
    `<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(metric.name)}" data-metric="${escapeHtml(metric.name)}" ` +
    `data-points="${points.length}" data-last="${last}">` +
    `<text x="0" y="12">${escapeHtml(number(hi))}</text><text x="0" y="${H - bottom}">${escapeHtml(number(lo))}</text>` +
    `<text x="${left}" y="${H - 2}">${escapeHtml(dayText(series.start_ms))}</text>` +
    `<text x="${W - 4}" y="${H - 2}" text-anchor="end">${escapeHtml(dayText(series.end_ms))}</text>` +
    `<polyline points="${line}"></polyline></svg>` +
    `<figcaption>${escapeHtml(t("now"))}: ${escapeHtml(number(last))} ${escapeHtml(metric.unit)}</figcaption></figure>`;
}
