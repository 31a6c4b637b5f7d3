/*
 * warrantd compliance desk console (docs/desk.md). Plain JavaScript, no
 * library, loaded from the daemon itself under a CSP without inline
 * scripts. It only calls the desk's JSON API (docs/desk-api.md) on the same
 * origin; the browser presents the operator's client certificate.
 * Everything the server sends is inserted as text, never as HTML.
 */
"use strict";

const I18N = {
	es: {
		title: "Mesa de cumplimiento", nav_queue: "Cola de trabajo",
		nav_urgent: "Órdenes urgentes", nav_stats: "Estadísticas",
		search: "Buscar por", by_carrier_ref: "referencia del operador",
		by_authority_ref: "referencia de la autoridad",
		by_identifier: "identificador (queda registrado)", state: "Estado",
		any: "todos", apply: "Aplicar", ref: "Referencia",
		authority: "Autoridad", official: "Servidor público", type: "Tipo",
		left: "Tiempo restante", holder: "Asignada a", actions: "Acciones",
		request: "Solicitud", kind: "Objeto",
		authority_ref_h: "Referencia de la autoridad", detail: "Detalle",
		no_results: "La mesa ve metadatos, conteos y huellas SHA-256: nunca el contenido de los resultados.",
		approve: "Aprobar", reject: "Rechazar", hold: "Retener",
		release: "Liberar", note: "Nota", open: "Abrir", reopen: "Reabrir",
		confirm_reopen: "¿Reabrir la tarea %s? Vuelve a quedar señalada o retenida.",
		content: "Contenido (esta consulta queda registrada en la bitácora)",
		confirm_approve: "¿Aprobar la tarea %s? Se consultará a los sistemas del operador.",
		ask_reason: "Motivo del rechazo (la autoridad lo verá):",
		ask_hold: "Motivo de la retención:", ask_note: "Nota:",
		done: "Hecho: %s.", error: "Error: %s", tasks: "%s tareas abiertas",
		late: "vencido", on_hold: "retenida", lang: "English",
		alerts: "Alertas de plazos: %s", alert_warning: "aviso",
		alert_critical: "crítica", alert_h: "Alerta",
		loading: "Cargando…", refused: "Acceso denegado: este certificado no es de la mesa."
	},
	en: {
		title: "Compliance desk", nav_queue: "Work queue",
		nav_urgent: "Urgent orders", nav_stats: "Statistics",
		search: "Search by", by_carrier_ref: "carrier reference",
		by_authority_ref: "authority reference",
		by_identifier: "identifier (journaled)", state: "State",
		any: "any", apply: "Apply", ref: "Reference",
		authority: "Authority", official: "Official", type: "Type",
		left: "Time left", holder: "Assigned to", actions: "Actions",
		request: "Request", kind: "Object",
		authority_ref_h: "Authority reference", detail: "Detail",
		no_results: "The desk sees metadata, counts and SHA-256 digests: never result contents.",
		approve: "Approve", reject: "Reject", hold: "Hold",
		release: "Release", note: "Note", open: "Open", reopen: "Re-open",
		confirm_reopen: "Re-open task %s? It is flagged or held again.",
		content: "Contents (this view is journaled)",
		confirm_approve: "Approve task %s? The carrier's systems will be queried.",
		ask_reason: "Reason for the rejection (the authority will see it):",
		ask_hold: "Reason for the hold:", ask_note: "Note:",
		done: "Done: %s.", error: "Error: %s", tasks: "%s open tasks",
		late: "overdue", on_hold: "on hold", lang: "Español",
		alerts: "Deadline alerts: %s", alert_warning: "warning",
		alert_critical: "critical", alert_h: "Alert",
		loading: "Loading…", refused: "Access refused: this certificate is not the desk's."
	}
};

let lang = localStorage.getItem("warrantd-desk-lang") === "en" ? "en" : "es";

function t(key, arg) {
	const s = I18N[lang][key] || key;
	return arg === undefined ? s : s.replace("%s", arg);
}

function translate() {
	document.documentElement.lang = lang;
	for (const el of document.querySelectorAll("[data-i18n]"))
		el.textContent = t(el.dataset.i18n);
	document.getElementById("lang").textContent = t("lang");
}

function status(text, bad) {
	const el = document.getElementById("status");
	el.textContent = text;
	el.className = bad ? "error" : "";
}

async function api(path, body) {
	const opts = body === undefined ? {} : {
		method: "POST",
		headers: { "Content-Type": "application/json" },
		body: JSON.stringify(body)
	};
	const r = await fetch(path, opts);
	let j = null;
	try { j = await r.json(); } catch (e) { j = null; }
	if (!r.ok)
		throw new Error(j && j.message ? j.message : "HTTP " + r.status);
	return j;
}

function cell(tr, text, cls) {
	const td = document.createElement("td");
	td.textContent = text === null || text === undefined ? "" : String(text);
	if (cls)
		td.className = cls;
	tr.appendChild(td);
	return td;
}

/* Time left, counted down between refreshes. */
let fetchedAt = Date.now();
function left(seconds) {
	if (seconds === undefined || seconds === null)
		return "—";
	const s = seconds - Math.floor((Date.now() - fetchedAt) / 1000);
	const a = Math.abs(s);
	const txt = Math.floor(a / 3600) + " h " +
	    String(Math.floor(a % 3600 / 60)).padStart(2, "0") + " min";
	return s < 0 ? t("late") + " " + txt : txt;
}

function button(td, key, fn) {
	const b = document.createElement("button");
	b.type = "button";
	b.textContent = t(key);
	b.dataset.action = key;
	b.addEventListener("click", fn);
	td.appendChild(b);
}

/* Every action is confirmed, sent, and then the page refreshed. */
async function act(action, task, refresh) {
	let body = { ref: task.ref, task: task.task };
	if (action === "approve" && !confirm(t("confirm_approve", task.task)))
		return;
	if (action === "reopen" && !confirm(t("confirm_reopen", task.task)))
		return;
	if (action === "reject" || action === "hold" || action === "note") {
		const key = { reject: "reason", hold: "note", note: "text" }[action];
		const v = prompt(t({ reject: "ask_reason", hold: "ask_hold",
		    note: "ask_note" }[action]));
		if (v === null || v.trim() === "")
			return;
		body[key] = v.trim();
	}
	try {
		await api("/desk/api/" + action, body);
		status(t("done", t(action) + " " + task.ref));
	} catch (e) {
		status(t("error", e.message), true);
	}
	refresh();
}

/* ETSI's final states: nothing more can be done to such a task. */
const FINAL = ["Disclosed", "DisclosureNotAvailable", "Rejected", "Cancelled",
	"Error", "Invalid", "Expired"];

/* What a supervisor may re-open (docs/desk-api.md): never a decision. */
let myLevel = "operator";
function reopenable(task) {
	return myLevel === "supervisor" && ((task.review === "review-after" &&
	    !task.flagged) || (task.released_hold && !task.held &&
	    task.state === "AwaitingApproval"));
}

function actions(td, task, refresh) {
	if (reopenable(task))
		button(td, "reopen", () => act("reopen", task, refresh));
	if (FINAL.includes(task.state))
		return;
	if (task.state === "AwaitingApproval") {
		button(td, "approve", () => act("approve", task, refresh));
		button(td, "reject", () => act("reject", task, refresh));
	}
	if (task.state && !task.held && task.state.startsWith("Awaiting"))
		button(td, "hold", () => act("hold", task, refresh));
	if (task.held)
		button(td, "release", () => act("release", task, refresh));
	button(td, "note", () => act("note", task, refresh));
}

/* ---- the queue -------------------------------------------------------- */

let lastQueue = [];
function renderQueue() {
	const tbody = document.querySelector("#queue tbody");
	tbody.textContent = "";
	for (const task of lastQueue) {
		const tr = document.createElement("tr");
		tr.dataset.task = task.task;
		tr.dataset.ref = task.ref;
		tr.className = task.state + (task.seconds_left < 0 ? " late" : "") +
		    (task.alert ? " alert-" + task.alert : "");
		const a = document.createElement("a");
		a.href = "/request.html?ref=" + encodeURIComponent(task.ref);
		a.textContent = task.ref;
		cell(tr, "").appendChild(a);
		cell(tr, task.authority + (task.authority_ref ? " · " + task.authority_ref : ""));
		cell(tr, task.official);
		cell(tr, task.type);
		cell(tr, task.state + (task.held ? " (" + t("on_hold") + ")" : ""), "state");
		cell(tr, left(task.seconds_left), "left");
		cell(tr, task.alert ? t("alert_" + task.alert) : "", "alert");
		cell(tr, task.holder);
		actions(cell(tr, ""), task, loadQueue);
		tbody.appendChild(tr);
	}
}

async function loadQueue() {
	const by = document.getElementById("by").value;
	const q = document.getElementById("q").value.trim();
	const st = document.getElementById("state").value;
	const p = new URLSearchParams();
	if (q)
		p.set(by, q);
	if (st)
		p.set("state", st);
	try {
		const j = await api("/desk/api/queue?" + p.toString());
		fetchedAt = Date.now();
		lastQueue = j.tasks;
		renderQueue();
		document.getElementById("count").textContent = t("tasks", j.total);
		const a = await api("/desk/api/alerts");
		document.getElementById("alerts").textContent = t("alerts",
		    a.open.critical + " " + t("alert_critical") + ", " +
		    a.open.warning + " " + t("alert_warning"));
		document.getElementById("alerts").className =
		    a.open.critical > 0 ? "critical" : a.open.warning > 0 ? "warning" : "";
	} catch (e) {
		status(t("error", e.message), true);
	}
}

/* ---- one request ---------------------------------------------------------- */

/* A part's contents (desk show-results), as text: never as HTML. */
function content(td, b64) {
	const bin = atob(b64);
	const bytes = new Uint8Array(bin.length);
	for (let i = 0; i < bin.length; i++)
		bytes[i] = bin.charCodeAt(i);
	const det = document.createElement("details");
	const sum = document.createElement("summary");
	sum.textContent = t("content");
	const pre = document.createElement("pre");
	pre.textContent = new TextDecoder("utf-8").decode(bytes);
	det.appendChild(sum);
	det.appendChild(pre);
	td.appendChild(det);
}

async function loadRequest() {
	const ref = new URLSearchParams(location.search).get("ref") || "";
	document.getElementById("ref").textContent = ref;
	const tbody = document.querySelector("#objects tbody");
	try {
		const j = await api("/desk/api/requests/" + encodeURIComponent(ref));
		fetchedAt = Date.now();
		tbody.textContent = "";
		for (const o of j.objects) {
			const tr = document.createElement("tr");
			tr.dataset.object = o.task || o.object;
			cell(tr, o.kind);
			cell(tr, o.state, o.state);
			cell(tr, o.type || (o.urgent ? "UrgentOrder" : ""));
			cell(tr, o.authority_ref);
			cell(tr, o.type && !FINAL.includes(o.state) ?
			    left(o.seconds_left) : "", "left");
			const d = cell(tr, o.kind === "Delivery" ? o.count + " · " + o.size +
			    " B · " + o.sha256.slice(0, 16) : (o.reason || o.last_note || ""));
			if (o.content_base64)
				content(d, o.content_base64);
			const td = cell(tr, "");
			if (o.type)
				actions(td, o, loadRequest);
			tbody.appendChild(tr);
		}
	} catch (e) {
		status(t("error", e.message), true);
	}
}

async function start() {
	translate();
	document.getElementById("lang").addEventListener("click", () => {
		lang = lang === "es" ? "en" : "es";
		localStorage.setItem("warrantd-desk-lang", lang);
		translate();
		if (document.body.dataset.page === "queue")
			loadQueue();
		else if (typeof boardLanguage === "function")
			boardLanguage();
	});
	try {
		const me = await api("/desk/api/me");
		document.getElementById("me").textContent = me.name + " (" + me.level + ")";
		myLevel = me.level;
	} catch (e) {
		status(t("refused"), true);
		return;
	}
	if (document.body.dataset.page === "queue") {
		document.getElementById("filters").addEventListener("submit", (ev) => {
			ev.preventDefault();
			status("");
			loadQueue();
		});
		loadQueue();
		/* Live: new work appears without reloading. */
		setInterval(loadQueue, 3000);
		setInterval(() => {
			for (const td of document.querySelectorAll("#queue td.left")) {
				const task = lastQueue.find((x) => x.task ===
				    td.parentNode.dataset.task);
				if (task)
					td.textContent = left(task.seconds_left);
			}
		}, 1000);
	} else if (document.body.dataset.page === "request")
		loadRequest();
	else if (typeof boardStart === "function")	/* board.js */
		boardStart(document.body.dataset.page);
}

document.addEventListener("DOMContentLoaded", start);
