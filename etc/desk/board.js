/*
 * warrantd compliance desk: the urgent-orders board (urgent.html) and a
 * day's statistics (stats.html). Loaded after desk.js, whose helpers (t,
 * api, cell, status, translate) and I18N it uses; desk.js calls
 * boardStart(page) once the operator is known and boardLanguage() when
 * the language changes. Charts are inline SVG drawn here (no library);
 * everything the server sends is inserted as text, never as HTML.
 */
"use strict";

Object.assign(I18N.es, {
	urgent_title: "Órdenes urgentes por ratificar", court: "Juzgado",
	tasks_h: "Tareas", ratify_by: "Ratificar antes de",
	clock: "Reloj", clock_kind: "Plazo", deadline_h: "Vence",
	urgent_note: "Una orden urgente debe ser ratificada por un juez antes de que su reloj llegue a cero; si no, caduca y lo entregado queda marcado.",
	expiring_title: "Conservaciones y resultados por vencer",
	orders: "Órdenes urgentes sin ratificar: %s", lapsed: "caducada",
	none: "Ninguna.", preservation: "conservación", keep: "resultados sin entregar",
	stats_title: "Estadísticas del día", day: "Día", show: "Mostrar",
	requests_h: "Tareas recibidas", answered_h: "Respondidas",
	missed_h: "Plazos incumplidos", max_h: "Máximo",
	chart_authority: "Tareas por autoridad y tipo",
	chart_answer: "Tiempo de respuesta por tipo (tareas respondidas)",
	chart_hours: "Tareas recibidas por hora",
	table_authority: "Por autoridad y tipo", table_answer: "Tiempo de respuesta",
	zone: "Zona horaria de la mesa: %s", truncated: "Día truncado: demasiadas tareas.",
	no_data: "Sin tareas ese día."
});
Object.assign(I18N.en, {
	urgent_title: "Urgent orders awaiting ratification", court: "Court",
	tasks_h: "Tasks", ratify_by: "Ratify by",
	clock: "Clock", clock_kind: "Deadline", deadline_h: "Ends",
	urgent_note: "An urgent order must be ratified by a judge before its clock reaches zero; otherwise it lapses and what was delivered is marked.",
	expiring_title: "Preservations and results about to end",
	orders: "Urgent orders not ratified: %s", lapsed: "lapsed",
	none: "None.", preservation: "preservation", keep: "undelivered results",
	stats_title: "A day's statistics", day: "Day", show: "Show",
	requests_h: "Tasks received", answered_h: "Answered",
	missed_h: "Deadlines missed", max_h: "Maximum",
	chart_authority: "Tasks by authority and type",
	chart_answer: "Time to answer by type (answered tasks)",
	chart_hours: "Tasks received per hour",
	table_authority: "By authority and type", table_answer: "Time to answer",
	zone: "The desk's time zone: %s", truncated: "Day truncated: too many tasks.",
	no_data: "No tasks that day."
});

/* ---- the urgent-orders board ------------------------------------------- */

let boardData = null;
let boardAt = Date.now();

/* Seconds left now, counted down in the page between refreshes. */

/* "None." across the whole table, not under its first column only. */
function noneRow(tbody) {
	const td = cell(tbody.appendChild(document.createElement("tr")), t("none"));
	td.colSpan = tbody.closest("table").querySelectorAll("thead th").length;
}

function boardLeft(seconds) {
	return seconds - Math.floor((Date.now() - boardAt) / 1000);
}

function clockText(s) {
	const a = Math.abs(s);
	const txt = String(Math.floor(a / 3600)).padStart(2, "0") + ":" +
	    String(Math.floor(a % 3600 / 60)).padStart(2, "0") + ":" +
	    String(a % 60).padStart(2, "0");
	return s <= 0 ? t("lapsed") + " −" + txt : txt;
}

/* Green, then amber under half the clock, red under a fifth or alerted. */
function clockClass(o, s) {
	if (o.lapsed || s <= 0)
		return "clock-lapsed";
	const frac = o.clock_seconds > 0 ? s / o.clock_seconds : 0;
	if (frac < 0.2 || o.alert === "critical")
		return "clock-near";
	if (frac < 0.5 || o.alert === "warning")
		return "clock-soon";
	return "clock-ok";
}

function tick() {
	if (boardData === null)
		return;
	for (const tr of document.querySelectorAll("#orders tbody tr[data-object]")) {
		const o = boardData.orders.find((x) => x.object === tr.dataset.object);
		if (!o)
			continue;
		const s = boardLeft(o.seconds_left);
		const td = tr.querySelector("td.clock");
		td.textContent = clockText(s);
		td.dataset.left = String(s);
		tr.className = clockClass(o, s);
	}
	for (const tr of document.querySelectorAll("#expiring tbody tr[data-object]")) {
		const x = boardData.expiring.find((e) => e.object === tr.dataset.object &&
		    e.clock === tr.dataset.clock);
		if (x)
			tr.querySelector("td.clock").textContent = clockText(boardLeft(x.seconds_left));
	}
}

function renderBoard() {
	const tbody = document.querySelector("#orders tbody");
	tbody.textContent = "";
	for (const o of boardData.orders) {
		const tr = document.createElement("tr");
		tr.dataset.object = o.object;
		tr.dataset.ref = o.ref;
		const a = document.createElement("a");
		a.href = "/request.html?ref=" + encodeURIComponent(o.ref);
		a.textContent = o.ref;
		cell(tr, "").appendChild(a);
		cell(tr, o.authority);
		cell(tr, o.official);
		cell(tr, o.authority_ref);
		cell(tr, o.court);
		cell(tr, o.tasks);
		cell(tr, o.ratify_by ? new Date(o.ratify_by).toLocaleString(
		    lang === "es" ? "es-MX" : "en-GB") : "");
		cell(tr, "", "clock");
		tbody.appendChild(tr);
	}
	if (boardData.orders.length === 0)
		noneRow(tbody);
	const ex = document.querySelector("#expiring tbody");
	ex.textContent = "";
	for (const x of boardData.expiring) {
		const tr = document.createElement("tr");
		tr.dataset.object = x.object;
		tr.dataset.clock = x.clock;
		tr.className = x.level === "critical" ? "clock-near" : "clock-soon";
		cell(tr, x.ref);
		cell(tr, x.authority);
		cell(tr, t(x.clock));
		cell(tr, x.type);
		cell(tr, x.deadline ? new Date(x.deadline).toLocaleString(
		    lang === "es" ? "es-MX" : "en-GB") : "");
		cell(tr, "", "clock");
		ex.appendChild(tr);
	}
	if (boardData.expiring.length === 0)
		noneRow(ex);
	const pending = boardData.orders.filter((o) => !o.lapsed).length;
	document.getElementById("count").textContent = t("orders", pending);
	tick();
}

async function loadBoard() {
	try {
		const j = await api("/desk/api/urgent");
		boardAt = Date.now();
		boardData = j;
		renderBoard();
	} catch (e) {
		status(t("error", e.message), true);
	}
}

/* ---- charts (inline SVG) ------------------------------------------------ */

const SVGNS = "http://www.w3.org/2000/svg";
const TYPE_COLOURS = ["#1f5f99", "#c0392b", "#e67e22", "#2e8b57", "#7d3c98",
	"#6b6b6b"];
let typeOrder = [];

function colourOf(type) {
	let i = typeOrder.indexOf(type);
	if (i === -1) {
		typeOrder.push(type);
		i = typeOrder.length - 1;
	}
	return TYPE_COLOURS[i % TYPE_COLOURS.length];
}

function svgEl(parent, name, attrs, text) {
	const el = document.createElementNS(SVGNS, name);
	for (const k of Object.keys(attrs))
		el.setAttribute(k, String(attrs[k]));
	if (text !== undefined)
		el.textContent = String(text);
	parent.appendChild(el);
	return el;
}

function svgRoot(div, w, h) {
	div.textContent = "";
	return svgEl(div, "svg", { width: w, height: h, viewBox: "0 0 " + w + " " + h,
	    role: "img" });
}

function legend(div, types) {
	const p = document.createElement("p");
	p.className = "legend";
	for (const ty of types) {
		const s = document.createElement("span");
		const i = document.createElementNS(SVGNS, "svg");
		i.setAttribute("width", "10");
		i.setAttribute("height", "10");
		svgEl(i, "rect", { width: 10, height: 10, fill: colourOf(ty) });
		s.appendChild(i);
		s.appendChild(document.createTextNode(" " + ty));
		p.appendChild(s);
	}
	div.appendChild(p);
}

/* One stacked horizontal bar per authority, a segment per request type. */
function chartAuthority(div, rows) {
	const by = new Map();
	for (const r of rows) {
		if (!by.has(r.authority))
			by.set(r.authority, []);
		by.get(r.authority).push(r);
	}
	const max = Math.max(1, ...[...by.values()].map((v) =>
	    v.reduce((a, r) => a + r.requests, 0)));
	const W = 460, L = 90, H = 26 * by.size + 20;
	const svg = svgRoot(div, W, H);
	let y = 8;
	for (const [auth, v] of by) {
		svgEl(svg, "text", { x: 4, y: y + 14 }, auth);
		let x = L, total = 0;
		for (const r of v) {
			const w = (W - L - 50) * r.requests / max;
			svgEl(svg, "rect", { x: x, y: y, width: Math.max(w, 1), height: 18,
			    fill: colourOf(r.type), "data-type": r.type }).appendChild(
			    svgEl(svg, "title", {}, r.type + ": " + r.requests));
			x += w;
			total += r.requests;
		}
		svgEl(svg, "text", { x: x + 4, y: y + 14, class: "bar-total" }, total);
		y += 26;
	}
	legend(div, [...new Set(rows.map((r) => r.type))]);
}

const BUCKETS = ["≤1 min", "≤5 min", "≤15 min", "≤1 h", "≤4 h", "≤12 h",
	"≤1 d", "≤2 d", ">2 d"];

/* The time-to-answer histogram: buckets, one bar per type in each. */
function chartAnswer(div, types) {
	const W = 520, H = 200, B = 30, L = 30;
	const svg = svgRoot(div, W, H);
	const n = BUCKETS.length, g = (W - L) / n;
	const max = Math.max(1, ...types.flatMap((ty) => ty.histogram.map((h) => h.count)));
	svgEl(svg, "line", { x1: L, y1: H - B, x2: W, y2: H - B, class: "axis" });
	svgEl(svg, "text", { x: 2, y: 12 }, max);
	types.forEach((ty, k) => {
		const bw = Math.max((g - 6) / types.length, 2);
		ty.histogram.forEach((h, i) => {
			const bh = (H - B - 16) * h.count / max;
			if (h.count > 0)
				svgEl(svg, "rect", { x: L + i * g + 3 + k * bw, y: H - B - bh,
				    width: bw, height: bh, fill: colourOf(ty.type) }).appendChild(
				    svgEl(svg, "title", {}, ty.type + " " + BUCKETS[i] + ": " + h.count));
		});
	});
	BUCKETS.forEach((b, i) => svgEl(svg, "text", { x: L + i * g + 2, y: H - B + 14 }, b));
	legend(div, types.map((ty) => ty.type));
}

/* Columns: tasks received in each hour of the day. */
function chartHours(div, hours) {
	const W = 520, H = 160, B = 20;
	const svg = svgRoot(div, W, H);
	const max = Math.max(1, ...hours), g = W / Math.max(hours.length, 1);
	svgEl(svg, "line", { x1: 0, y1: H - B, x2: W, y2: H - B, class: "axis" });
	hours.forEach((c, h) => {
		const bh = (H - B - 14) * c / max;
		if (c > 0) {
			svgEl(svg, "rect", { x: h * g + 2, y: H - B - bh, width: g - 4,
			    height: bh, fill: "#1f5f99" }).appendChild(svgEl(svg, "title", {},
			    String(h).padStart(2, "0") + ":00 — " + c));
			svgEl(svg, "text", { x: h * g + 3, y: H - B - bh - 2 }, c);
		}
		if (h % 3 === 0)
			svgEl(svg, "text", { x: h * g + 2, y: H - 6 }, String(h).padStart(2, "0"));
	});
}

/* ---- a day's statistics -------------------------------------------------- */

let statsData = null;

function duration(s) {
	if (s < 60)
		return s + " s";
	if (s < 3600)
		return Math.floor(s / 60) + " min " + (s % 60) + " s";
	return Math.floor(s / 3600) + " h " + String(Math.floor(s % 3600 / 60)).padStart(2, "0") + " min";
}

function renderStats() {
	const j = statsData;
	document.getElementById("date").value = j.date;
	document.getElementById("zone").textContent = t("zone", j.timezone);
	document.getElementById("n-requests").textContent = j.requests;
	document.getElementById("n-answered").textContent = j.answered;
	document.getElementById("n-missed").textContent = j.missed;
	status(j.truncated ? t("truncated") : j.requests === 0 ? t("no_data") : "",
	    j.truncated);
	const tb = document.querySelector("#by-authority tbody");
	tb.textContent = "";
	for (const r of j.by_authority) {
		const tr = document.createElement("tr");
		tr.dataset.authority = r.authority;
		tr.dataset.type = r.type;
		cell(tr, r.authority);
		cell(tr, r.type);
		cell(tr, r.requests, "requests");
		cell(tr, r.answered, "answered");
		cell(tr, r.missed, "missed");
		tb.appendChild(tr);
	}
	const ta = document.querySelector("#time-to-answer tbody");
	ta.textContent = "";
	for (const ty of j.time_to_answer) {
		const tr = document.createElement("tr");
		tr.dataset.type = ty.type;
		cell(tr, ty.type);
		cell(tr, ty.answered, "answered");
		cell(tr, duration(ty.p50));
		cell(tr, duration(ty.p90));
		cell(tr, duration(ty.p99));
		cell(tr, duration(ty.max));
		ta.appendChild(tr);
	}
	chartAuthority(document.getElementById("chart-authority"), j.by_authority);
	chartAnswer(document.getElementById("chart-answer"), j.time_to_answer);
	chartHours(document.getElementById("chart-hours"), j.per_hour);
}

async function loadStats(date) {
	try {
		const j = await api("/desk/api/stats" + (date ? "?date=" +
		    encodeURIComponent(date) : ""));
		statsData = j;
		renderStats();
	} catch (e) {
		status(t("error", e.message), true);
	}
}

/* ---- entry points (desk.js) ------------------------------------------------ */

function boardLanguage() {
	if (boardData !== null)
		renderBoard();
	if (statsData !== null)
		renderStats();
}

function boardStart(page) {
	if (page === "urgent") {
		loadBoard();
		setInterval(loadBoard, 15000);	/* refreshed from the API */
		setInterval(tick, 1000);	/* the seconds tick here */
	} else if (page === "stats") {
		document.getElementById("day").addEventListener("submit", (ev) => {
			ev.preventDefault();
			loadStats(document.getElementById("date").value);
		});
		loadStats("");	/* today, in the desk's time zone */
	}
}
