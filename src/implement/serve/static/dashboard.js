// The dashboard of IMPLEMENT runs: three views over the JSON API, routed by the URL's hash.
//   #/                                    the runs: table and SR@k plot
//   #/runs/RUN                            one run: summary, SR@k per task type, episodes
//   #/runs/RUN/episodes/TRIAL/GAME        one episode: per step, imagined outcomes beside what happened
"use strict";

const app = document.getElementById("app");
const crumbs = document.getElementById("crumbs");
const COLORS = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"];

// ------------------------------------------------------------------ helpers

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value == null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs || {})) el.setAttribute(key, value);
  for (const child of children.flat()) el.append(child instanceof Node ? child : String(child));
  return el;
}

async function getJSON(url) {
  const response = await fetch(url);
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.detail || `${response.status} ${response.statusText}`);
  return body;
}

const enc = encodeURIComponent;
const pct = (v) => (v == null ? "–" : `${Math.round(1000 * v) / 10}%`);
const num = (v, digits = 2) => (v == null ? "–" : Number.isInteger(v) ? v.toLocaleString() : v.toFixed(digits));
const shares = (d) => Object.entries(d || {}).map(([k, v]) => `${k} ${pct(v)}`).join(", ") || "–";
const shortGame = (id) => id.split("/").slice(-2, -1)[0] || id;
const runHref = (run) => `#/runs/${enc(run)}`;
const episodeHref = (run, trial, game) => `${runHref(run)}/episodes/${trial}/${enc(game)}`;

function badge(ok, yes, no) {
  return h("span", { class: `badge ${ok ? "ok" : "bad"}` }, ok ? yes : no);
}

function alignHeaders(tableEl) {
  // A column of numbers gets a right-aligned header too.
  const first = tableEl.querySelector("tbody tr");
  if (!first) return tableEl;
  tableEl.querySelectorAll("thead th").forEach((th, i) => th.classList.toggle("n", !!first.children[i]?.classList.contains("n")));
  return tableEl;
}

function table(headers, rows, attrs) {
  return alignHeaders(h(
    "table",
    attrs,
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows),
  ));
}

function stat(label, value) {
  return h("div", { class: "stat" }, h("div", { class: "value" }, value), h("div", { class: "label" }, label));
}

// ------------------------------------------------------------------ SR@k plot (SVG)

function srPlot(series, trials) {
  const W = 520, H = 240, L = 44, R = 12, T = 12, B = 36;
  const x = (k) => (trials === 1 ? L + (W - L - R) / 2 : L + ((k - 1) * (W - L - R)) / (trials - 1));
  const y = (v) => T + (1 - v) * (H - T - B);
  const plot = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", role: "img", "aria-label": "SR@k over trials" });
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    plot.append(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" }));
    plot.append(svg("text", { x: L - 6, y: y(v) + 4, "text-anchor": "end" }, `${v * 100}%`));
  }
  for (let k = 1; k <= trials; k++) {
    plot.append(svg("text", { x: x(k), y: H - B + 16, "text-anchor": "middle" }, k));
  }
  plot.append(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "axis" }, "trials k"));
  series.forEach((s, i) => {
    const color = s.color || COLORS[i % COLORS.length];
    const points = s.values.map((v, j) => `${x(j + 1)},${y(v)}`).join(" ");
    plot.append(svg("polyline", { points, fill: "none", stroke: color, "stroke-width": s.bold ? 3 : 1.6 }));
    s.values.forEach((v, j) => {
      const dot = svg("circle", { cx: x(j + 1), cy: y(v), r: s.bold ? 4 : 3, fill: color });
      dot.append(svg("title", {}, `${s.label}: SR@${j + 1} = ${pct(v)}`));
      plot.append(dot);
    });
  });
  const legend = h(
    "ul",
    { class: "legend" },
    series.map((s, i) =>
      h("li", { class: s.bold ? "bold" : null },
        h("span", { class: "swatch", style: `background:${s.color || COLORS[i % COLORS.length]}` }), s.label),
    ),
  );
  return h("figure", { class: "sr-plot" }, plot, legend);
}

// ------------------------------------------------------------------ views

async function runsView() {
  crumbs.replaceChildren();
  const runs = await getJSON("api/runs");
  if (!runs.length) return [h("h1", {}, "Runs"), h("p", { class: "muted" }, "No runs found yet.")];
  const good = runs.filter((r) => !r.error);
  const maxTrials = Math.max(1, ...good.map((r) => r.trials));
  const rows = runs.map((r) =>
    r.error
      ? h("tr", { class: "error" }, h("td", {}, r.id), h("td", { colspan: 14 }, r.error))
      : h(
          "tr",
          { class: "link", "data-run": r.id, onclick: () => (location.hash = runHref(r.id)) },
          h("td", {}, h("a", { href: runHref(r.id) }, r.id)),
          h("td", {}, r.agent),
          h("td", {}, r.policy || "–"),
          h("td", {}, r.world_model || "–"),
          h("td", {}, r.split),
          h("td", { class: "n" }, r.games),
          h("td", { class: "n" }, r.trials),
          h("td", { class: "srk" }, r.sr_at.map((v, i) => h("span", { title: `SR@${i + 1}` }, pct(v)))),
          h("td", { class: "n strong" }, pct(r.sr_final)),
          h("td", { class: "n" }, num(r.steps_per_success, 1)),
          h("td", { class: "n" }, num(r.usage.llm_calls)),
          h("td", { class: "n" }, num(r.usage.prompt_tokens + r.usage.completion_tokens)),
          h("td", { class: "n" }, `$${(r.usage.cost || 0).toFixed(3)}`),
          h("td", { class: "n" }, r.finished_episodes, r.complete ? null : h("span", { class: "muted" }, " (partial)")),
          h("td", { class: "muted" }, (r.started_at || "").replace("T", " ").slice(0, 16)),
        ),
  );
  return [
    h("h1", {}, "Runs ", h("span", { class: "muted" }, `(${runs.length})`)),
    h("section", { class: "card" },
      h("h2", {}, "Success rate over trials (SR@k)"),
      srPlot(good.slice(0, COLORS.length).map((r) => ({ label: r.id, values: r.sr_at })), maxTrials)),
    h("section", { class: "card" },
      table(
        ["run", "agent", "policy", "world model", "split", "games", "trials", "SR@k",
         "SR@final", "steps / success", "LLM calls", "tokens", "cost", "episodes", "started"],
        rows,
        { id: "runs", class: "data" },
      )),
  ];
}

async function runView(runId) {
  crumbs.replaceChildren(h("a", { href: "#/" }, "runs"), " / ", runId);
  const run = await getJSON(`api/runs/${enc(runId)}`);
  const s = run.summary;
  const ks = Object.keys(s.sr_at).sort((a, b) => a - b);
  const series = [
    { label: "all", values: run.sr_at, bold: true, color: "#111827" },
    ...Object.entries(s.by_task_type).map(([t, row]) => ({ label: t, values: ks.map((k) => row.sr_at[k]) })),
  ];
  const typeRows = [
    ...Object.entries(s.by_task_type).map(([t, row]) =>
      h("tr", {}, h("td", {}, t), h("td", { class: "n" }, row.games), ks.map((k) => h("td", { class: "n" }, pct(row.sr_at[k]))))),
    h("tr", { class: "total" }, h("td", {}, "all"), h("td", { class: "n" }, s.games), ks.map((k) => h("td", { class: "n" }, pct(s.sr_at[k])))),
  ];
  const trialRows = s.by_trial.map((r) =>
    h("tr", {}, h("td", { class: "n" }, r.trial), h("td", { class: "n" }, r.attempted), h("td", { class: "n" }, r.solved),
      h("td", { class: "n" }, num(r.steps_ratio_to_walkthrough))));

  const episodes = h("tbody", {});
  const episodesTable = h("table", { id: "episodes", class: "data" },
    h("thead", {}, h("tr", {}, ["trial", "task type", "game", "result", "steps", "failed", "imagined",
      "LLM calls", "seconds", "error"].map((x) => h("th", {}, x)))),
    episodes);
  const filter = { result: "all" };
  const drawEpisodes = () => {
    const shown = run.episodes.filter((e) =>
      filter.result === "all" || (filter.result === "won" ? e.won : filter.result === "lost" ? e.finished && !e.won : !e.finished));
    episodes.replaceChildren(
      ...shown.map((e) =>
        h("tr", { class: "link", "data-game": e.game, "data-trial": e.trial, onclick: () => (location.hash = episodeHref(runId, e.trial, e.game)) },
          h("td", { class: "n" }, e.trial),
          h("td", {}, e.task_type),
          h("td", {}, h("a", { href: episodeHref(runId, e.trial, e.game), title: e.game }, shortGame(e.game))),
          h("td", {}, e.finished ? badge(e.won, "won", "lost") : h("span", { class: "badge run" }, "playing")),
          h("td", { class: "n" }, e.finished ? `${e.steps}${e.walkthrough_steps ? ` / ${e.walkthrough_steps}` : ""}` : "–"),
          h("td", { class: "n" }, e.finished ? e.failed_actions : "–"),
          h("td", { class: "n" }, num(e.usage?.imagined, 0)),
          h("td", { class: "n" }, num(e.usage?.llm_calls, 0)),
          h("td", { class: "n" }, num(e.seconds, 1)),
          h("td", { class: "err" }, e.error || ""))));
    alignHeaders(episodesTable);
  };
  const filterButton = (value) =>
    h("button", { class: value === filter.result ? "on" : null, onclick: (ev) => {
      filter.result = value;
      ev.target.parentNode.querySelectorAll("button").forEach((b) => b.classList.toggle("on", b === ev.target));
      drawEpisodes();
    } }, value);
  drawEpisodes();

  const wonCount = run.episodes.filter((e) => e.won).length;
  return [
    h("h1", {}, runId),
    h("p", { class: "muted" },
      [`agent ${run.agent}`, run.policy && `policy ${run.policy}`, run.world_model && `world model ${run.world_model}`,
       `split ${run.split}`, run.started_at && `started ${run.started_at.replace("T", " ").slice(0, 19)}`,
       run.git_revision && `git ${run.git_revision.slice(0, 10)}`].filter(Boolean).join(" · ")),
    h("div", { class: "stats" },
      stat(`SR@${run.trials}`, pct(run.sr_final)),
      stat("games", run.games),
      stat("episodes", `${run.finished_episodes}${run.complete ? "" : " (partial)"}`),
      stat("steps / success", num(run.steps_per_success, 1)),
      stat("failed-action rate", pct(s.failed_action_rate)),
      stat("errors", run.errors),
      stat("LLM calls", num(run.usage.llm_calls)),
      stat("cost", `$${(run.usage.cost || 0).toFixed(3)}`)),
    h("div", { class: "two" },
      h("section", { class: "card" }, h("h2", {}, "SR@k over trials"), srPlot(series, run.trials)),
      h("section", { class: "card" },
        h("h2", {}, "SR@k per task type"),
        table(["task type", "games", ...ks.map((k) => `SR@${k}`)], typeRows, { class: "data" }),
        h("h2", {}, "By trial"),
        table(["trial", "attempted", "solved", "steps / walkthrough"], trialRows, { class: "data" }))),
    h("section", { class: "card" },
      h("h2", {}, `Episodes (${wonCount} won of ${run.episodes.length})`),
      h("div", { class: "filters" }, ["all", "won", "lost", "playing"].map(filterButton)),
      episodesTable),
  ];
}

function stateView(state) {
  if (!state) return h("p", { class: "muted" }, "no state recorded");
  const receptacles = Object.entries(state.world_state || {});
  return h("div", { class: "state" },
    h("p", {}, h("b", {}, "at "), state.agent_location, h("b", {}, " · holding "), state.inventory),
    table(["receptacle", "visited", "open", "objects"],
      receptacles.map(([name, r]) => h("tr", { class: r.visited ? null : "muted" },
        h("td", {}, name), h("td", {}, r.visited ? "yes" : "no"), h("td", {}, String(r.open)),
        h("td", {}, r.objects.join(", ")))),
      { class: "data compact" }));
}

function beliefRow(belief, chosen) {
  const contents = Object.entries(belief.contents || {}).map(([r, kinds]) => `${r} shows ${shares(kinds)}`);
  const detail = [`agent at ${shares(belief.locations)}`, `holds ${shares(belief.inventory)}`, ...contents,
    `${belief.samples} samples`].join("\n");
  return h("tr", { class: chosen ? "chosen" : null, title: detail },
    h("td", { class: "act" }, h("code", {}, belief.action), chosen ? h("span", { class: "badge pick" }, "chosen") : null),
    h("td", { class: "n" }, pct(belief.p_changes)),
    h("td", { class: "belief-text" }, belief.text,
      belief.lookahead != null ? h("div", { class: "muted" }, `lookahead progress ${num(belief.lookahead)}`) : null,
      belief.summary_error ? h("div", { class: "err" }, `summarizer failed: ${belief.summary_error}`) : null));
}

function roundView(round, action) {
  const hasChosen = round.imagined.some((b) => b.action === action);
  const head = [
    h("b", {}, `Round ${round.round}`),
    round.proposals.length ? ` · imagined ${round.imagined.length} of ${round.proposals.length} proposed` : "",
    round.choice ? [" · chose ", h("code", {}, round.choice)] : "",
    round.reasoning ? h("span", { class: "muted" }, ` — ${round.reasoning}`) : "",
  ];
  const body = [
    round.parse_errors.length ? h("ul", { class: "err" }, round.parse_errors.map((e) => h("li", {}, e))) : null,
    round.imagined.length
      ? table(["action", "p(change)", "imagined outcome (belief)"],
          round.imagined.map((b) => beliefRow(b, b.action === action)), { class: "data beliefs" })
      : null,
  ];
  if (!round.imagined.length) return h("div", { class: "round" }, h("div", { class: "round-head" }, head), body);
  // The round that imagined the executed action is open; the others fold away.
  return h("details", { class: "round", open: hasChosen }, h("summary", { class: "round-head" }, head), body);
}

function stepView(step) {
  const d = step.decision;
  const o = step.outcome;
  const a = step.actual;
  const other = Object.keys(step.other_details).length
    ? h("details", {}, h("summary", {}, "Other details"), h("pre", {}, JSON.stringify(step.other_details, null, 2)))
    : null;
  // Agents that imagine nothing (random, expert, ReAct...) get one column: what happened.
  const imagined = step.rounds.length
    ? h("div", { class: "imagined" }, h("h3", {}, "Imagined (world model)"), step.rounds.map((r) => roundView(r, d.action)), other)
    : null;
  return h("section", { class: "card step", id: `step-${step.step}` },
    h("div", { class: "step-head" },
      h("span", { class: "step-no" }, `Step ${step.step}`),
      h("code", { class: "action" }, `> ${d.action}`),
      o.succeeded == null ? null : badge(o.succeeded, "succeeded", "failed"),
      o.won ? h("span", { class: "badge ok" }, "goal reached") : null,
      d.fallback ? h("span", { class: "badge warn" }, "fallback") : null),
    h("details", { class: "seen" }, h("summary", {}, "Observation before acting"), h("pre", {}, step.seen)),
    h("details", { class: "parsed" }, h("summary", {}, "Parsed state the agent decided on"), stateView(step.belief_state)),
    h("div", { class: imagined ? "compare" : "compare single" },
      imagined,
      h("div", { class: "actual" },
        h("h3", {}, "What happened"),
        h("p", {}, h("code", {}, `> ${o.action ?? d.action}`)),
        h("pre", { class: "observation" }, o.text),
        h("p", { class: "where" },
          "now at ", h("b", {}, a.location ?? "–"),
          a.p_location != null ? h("span", { class: "muted" }, ` (imagined ${pct(a.p_location)})`) : null,
          " · holding ", h("b", {}, a.inventory ?? "–"),
          a.p_inventory != null ? h("span", { class: "muted" }, ` (imagined ${pct(a.p_inventory)})`) : null),
        step.chosen ? h("p", { class: "muted" }, "Imagined for this action: ", step.chosen.text) : null,
        imagined ? null : other)),
    h("div", { class: "decision" },
      h("h3", {}, "Decision"),
      h("p", {}, h("code", {}, d.action), d.reasoning ? ` — ${d.reasoning}` : ""),
      d.fallback ? h("p", { class: "warn" }, `Fallback: ${d.fallback}`) : null,
      h("p", { class: "muted usage" },
        Object.entries(d.usage).filter(([, v]) => v).map(([k, v]) => `${k.replace(/_/g, " ")} ${num(v)}`).join(" · "))));
}

async function episodeView(runId, trial, game) {
  crumbs.replaceChildren(h("a", { href: "#/" }, "runs"), " / ", h("a", { href: runHref(runId) }, runId),
    " / ", `trial ${trial} · ${shortGame(game)}`);
  const path = game.split("/").map(enc).join("/");
  const [ep, run] = await Promise.all([
    getJSON(`api/runs/${enc(runId)}/episodes/${trial}/${path}`), getJSON(`api/runs/${enc(runId)}`)]);
  const e = ep.episode;
  return [
    h("h1", {}, ep.goal || shortGame(game)),
    h("p", { class: "muted" }, `${ep.task_type} · trial ${trial} · ${game}`),
    h("div", { class: "stats" },
      stat("result", e ? badge(e.won, "won", "lost") : h("span", { class: "badge run" }, "playing")),
      stat("steps", `${ep.steps.length}${ep.walkthrough_steps ? ` / ${ep.walkthrough_steps} expert` : ""}`),
      stat("failed actions", e ? e.failed_actions : "–"),
      stat("seconds", num(e?.seconds, 1))),
    ep.error ? h("section", { class: "card errbox" }, h("h2", {}, ep.error.error), h("pre", {}, ep.error.traceback)) : null,
    h("section", { class: "card" }, h("h2", {}, "Initial observation"), h("pre", {}, ep.initial.observation)),
    ep.steps.some((s) => s.rounds.length) ? null
      : h("p", { class: "muted" }, `Agent ${run.agent} records no imagined outcomes: each step shows what happened.`),
    ep.steps.map((s) => stepView(s)),
  ];
}

// ------------------------------------------------------------------ routing

async function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  app.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    let view;
    if (parts[0] === "runs" && parts.length >= 5 && parts[2] === "episodes") view = await episodeView(parts[1], Number(parts[3]), parts.slice(4).join("/"));
    else if (parts[0] === "runs" && parts.length === 2) view = await runView(parts[1]);
    else view = await runsView();
    app.replaceChildren(...[view].flat(Infinity).filter(Boolean));
    window.scrollTo(0, 0);
  } catch (error) {
    app.replaceChildren(h("div", { class: "card errbox" }, h("h2", {}, "Cannot show this page"), h("p", {}, error.message),
      h("a", { href: "#/" }, "back to the runs")));
  }
}

window.addEventListener("hashchange", route);
route();
