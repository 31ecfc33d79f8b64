// One journey: its steps as a graph (SVG boxes and arrows) with live
// counts per step, its figures per day, the status actions and a dry run
// over the last days of events.
import { html, useState, useEffect, useCallback, api, ErrorBox, Spinner, Chart, fmtNum } from '../lib.js';
import { triggerText, StatusBadge } from './journeys.js';

const W = 180, H = 64, GX = 60, GY = 24;

/** edges lists a step's ways out with their labels. */
function edges(s) {
  switch (s.type) {
    case 'branch': return [[s.next, 'yes'], [s.else, 'no']];
    case 'wait_event': return [[s.next, s.event], [s.else, `after ${s.timeout}`]];
    case 'split': return (s.paths || []).map((p) => [p.next, `${p.percent}%`]);
    default: return [[s.next, '']];
  }
}

function detail(s) {
  switch (s.type) {
    case 'send': return `${s.channel}: ${s.template}`;
    case 'webhook': return `webhook ${s.url || s.template}`;
    case 'wait': return `wait ${s.duration}`;
    case 'wait_until': return `wait until ${s.time} local`;
    case 'wait_event': return `wait for ${s.event}`;
    case 'branch': return 'if the rule holds';
    case 'split': return 'random split';
    case 'update_trait': return `set ${Object.keys(s.traits || {}).join(', ')}`;
    case 'exit': return 'exit';
    default: return s.type;
  }
}

/** layout places each step in the column of its distance from the start. */
export function layout(steps, start) {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const depth = new Map([[start, 0]]);
  const queue = [start];
  while (queue.length) {
    const id = queue.shift();
    const s = byId.get(id);
    if (!s) continue;
    for (const [n] of edges(s)) {
      if (n && byId.has(n) && !depth.has(n)) { depth.set(n, depth.get(id) + 1); queue.push(n); }
    }
  }
  let extra = Math.max(0, ...depth.values()) + 1;
  for (const s of steps) if (!depth.has(s.id)) depth.set(s.id, extra); // unreachable steps
  const rows = new Map();
  const pos = new Map();
  for (const s of steps) {
    const d = depth.get(s.id);
    const r = rows.get(d) || 0;
    rows.set(d, r + 1);
    pos.set(s.id, { x: 10 + d * (W + GX), y: 10 + r * (H + GY) });
  }
  const width = 20 + (Math.max(...depth.values()) + 1) * (W + GX);
  const height = 20 + Math.max(...rows.values()) * (H + GY);
  return { pos, width, height };
}

function Graph({ j, stats }) {
  const { pos, width, height } = layout(j.steps, j.start);
  const arrows = [];
  for (const s of j.steps) {
    for (const [n, label] of edges(s)) {
      if (!n || !pos.has(n)) continue;
      const a = pos.get(s.id), b = pos.get(n);
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x, y2 = b.y + H / 2;
      const back = x2 <= x1;
      const d = back ? `M${x1},${y1} C${x1 + 40},${y1 + 60} ${x2 - 40},${y2 + 60} ${x2},${y2}` : `M${x1},${y1} C${x1 + GX / 2},${y1} ${x2 - GX / 2},${y2} ${x2},${y2}`;
      arrows.push(html`<g key=${s.id + '>' + n}><path d=${d} fill="none" stroke="currentColor" stroke-opacity=".5" marker-end="url(#jr-arrow)" />
        ${label && html`<text x=${(x1 + x2) / 2} y=${(y1 + y2) / 2 - 4} font-size="11" text-anchor="middle" fill="currentColor">${label}</text>`}</g>`);
    }
  }
  return html`<svg id="journey-graph" role="img" aria-label=${`steps of ${j.name}`} width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} style="max-width:none;color:var(--fg, #1f2328)">
    <defs><marker id="jr-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="currentColor" /></marker></defs>
    ${arrows}
    ${j.steps.map((s) => {
      const p = pos.get(s.id);
      const st = (stats && stats.steps && stats.steps[s.id]) || {};
      const counts = [`${fmtNum(st.entered || 0)} in`];
      if (st.waiting) counts.push(`${fmtNum(st.waiting)} waiting`);
      if (st.sent) counts.push(`${fmtNum(st.sent)} sent`);
      const tracked = st.sent ? ` — ${fmtNum(st.delivered || 0)} delivered, ${fmtNum(st.opened || 0)} opened, ${fmtNum(st.clicked || 0)} clicked, ${fmtNum(st.unsubscribed || 0)} unsubscribed` : '';
      if (st.converted) counts.push(`${fmtNum(st.converted)} conv.`);
      return html`<g key=${s.id} class="jr-step" data-step=${s.id} data-entered=${st.entered || 0}>
        <title>${s.id}: ${detail(s)}${tracked}</title>
        <rect x=${p.x} y=${p.y} width=${W} height=${H} rx="8" fill=${s.id === j.start ? '#ddf4ff' : '#f6f8fa'} stroke="#8c959f" />
        <text x=${p.x + 8} y=${p.y + 18} font-size="13" font-weight="600" fill="#1f2328">${s.id}</text>
        <text x=${p.x + 8} y=${p.y + 35} font-size="11" fill="#57606a">${detail(s).slice(0, 28)}</text>
        <text x=${p.x + 8} y=${p.y + 53} font-size="11" fill="#1f2328" class="jr-counts">${counts.join(' · ')}</text>
      </g>`;
    })}
  </svg>`;
}

// StepTable lists every step's figures: the graph's boxes have room for a
// few, this has them all.
const stepCols = [['entered', 'entered'], ['waiting', 'waiting'], ['sent', 'sent'], ['delivered', 'delivered'],
  ['opened', 'opened'], ['clicked', 'clicked'], ['unsubscribed', 'unsubscribed'], ['converted', 'converted'], ['revenue', 'revenue']];

function StepTable({ j, stats }) {
  const order = (stats && stats.order) || j.steps.map((s) => s.id);
  return html`<div class="table-wrap"><table class="small" id="jr-step-table">
    <caption class="muted">Per step, since the journey was created (opened, clicked: messages, each counted once; conversions and revenue: of the messages each step sent last)</caption>
    <thead><tr><th scope="col">step</th>${stepCols.map(([, label]) => html`<th scope="col">${label}</th>`)}</tr></thead>
    <tbody>${order.map((id) => {
      const st = (stats && stats.steps && stats.steps[id]) || {};
      return html`<tr data-step=${id}><th scope="row">${id}</th>${stepCols.map(([k]) => html`<td data-k=${k}>${fmtNum(k === 'revenue' ? Math.round(st[k] || 0) : st[k] || 0)}</td>`)}</tr>`;
    })}</tbody></table></div>`;
}

// The daily series: counts on one chart, revenue (another scale) on its own.
const dayCounts = [['entered', 'entered'], ['sent', 'sent'], ['delivered', 'delivered'], ['opened', 'opened'],
  ['clicked', 'clicked'], ['converted', 'converted'], ['unsubscribed', 'unsubscribed']];

/** dayRange lists every UTC day from the first with figures to today (at
 * least the last 14 days, at most 90), so a quiet day shows as 0 rather
 * than being skipped and the axis reads in days even for a new journey. */
export function dayRange(days, now = Date.now()) {
  const keys = Object.keys(days || {}).sort();
  if (keys.length === 0) return [];
  const day = 86400000;
  const last = Math.max(Date.parse(keys[keys.length - 1] + 'T00:00:00Z'), Math.floor(now / day) * day);
  const first = Math.max(Math.min(Date.parse(keys[0] + 'T00:00:00Z'), last - 13 * day), last - 89 * day);
  const out = [];
  for (let t = first; t <= last; t += day) out.push(new Date(t).toISOString().slice(0, 10));
  return out;
}

function Days({ stats }) {
  const days = dayRange(stats && stats.days);
  if (days.length === 0) return html`<h2>Per day</h2><p class="muted">No activity yet.</p>`;
  const x = days.map((d) => Date.parse(d + 'T00:00:00Z') / 1000);
  const col = (k) => days.map((d) => (stats.days[d] && stats.days[d][k]) || 0);
  const total = (k) => col(k).reduce((a, b) => a + b, 0);
  return html`<h2>Per day <span class="muted small">UTC, last ${days.length} ${days.length === 1 ? 'day' : 'days'}</span></h2>
    <div id="jr-day-charts" data-days=${days.length}>
      <${Chart} title="Messages and customers" x=${x} points=${true}
        series=${dayCounts.map(([k, label]) => ({ label, values: col(k) }))} />
      <${Chart} title="Revenue" x=${x} height=${140} points=${true} series=${[{ label: 'revenue', values: col('revenue') }]} />
    </div>
    <div class="table-wrap"><table class="small" id="jr-day-totals"><caption class="muted">Totals over these days</caption>
      <thead><tr>${dayCounts.map(([, label]) => html`<th scope="col">${label}</th>`)}<th scope="col">revenue</th></tr></thead>
      <tbody><tr>${dayCounts.map(([k]) => html`<td data-k=${k}>${fmtNum(total(k))}</td>`)}<td data-k="revenue">${fmtNum(Math.round(total('revenue')))}</td></tr></tbody>
    </table></div>
    <p class="muted small">Opens and clicks count tracked events (one open per message and minute), by the day they happened.</p>`;
}

function DryRun({ id }) {
  const [days, setDays] = useState(7);
  const [res, setRes] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const run = async (e) => {
    e.preventDefault();
    setBusy(true); setError(null);
    try { setRes(await api(`/api/journeys/${encodeURIComponent(id)}/dry-run`, { method: 'POST', body: { days: Number(days) } })); }
    catch (err) { setError(err); }
    setBusy(false);
  };
  return html`<section class="card"><h2>Dry run</h2>
    <form onSubmit=${run} style="display:flex;gap:.5rem;align-items:end;flex-wrap:wrap">
      <div><label for="jr-days">Replay the last … days of events</label><br />
        <input id="jr-days" type="number" min="1" max="90" value=${days} onInput=${(e) => setDays(e.target.value)} style="width:6em" /></div>
      <button class="btn primary" id="jr-dry-run" disabled=${busy}>${busy ? 'Running…' : 'Dry run'}</button>
    </form>
    <p class="muted">Nothing is sent or stored: the journey runs over past events as if it had been live.</p>
    <${ErrorBox} error=${error} />
    ${res && html`<table id="dry-run-result"><tbody>
      <tr><th scope="row">Events read</th><td>${fmtNum(res.events_read)}</td></tr>
      <tr><th scope="row">Entered</th><td class="dr-entered">${fmtNum(res.entered)}</td></tr>
      <tr><th scope="row">Held out</th><td>${fmtNum(res.held_out)}</td></tr>
      <tr><th scope="row">Converted</th><td>${fmtNum(res.converted)} (revenue ${fmtNum(Math.round(res.revenue))})</td></tr>
      <tr><th scope="row">Still waiting</th><td>${fmtNum(res.waiting)}</td></tr>
      <tr><th scope="row">Messages</th><td>${Object.entries(res.messages || {}).map(([c, n]) => `${c}: ${fmtNum(n)}`).join(', ') || 'none'}</td></tr>
      <tr><th scope="row">Reached per step</th><td>${Object.entries(res.steps || {}).map(([s, n]) => `${s}: ${fmtNum(n)}`).join(', ')}</td></tr>
    </tbody></table>`}
  </section>`;
}

const actions = { draft: ['publish', 'archive'], live: ['pause', 'archive'], paused: ['resume', 'archive'], archived: [] };

export default function Page({ params }) {
  const id = params.id;
  const [j, setJ] = useState(null);
  const [stats, setStats] = useState(null);
  const [error, setError] = useState(null);
  const load = useCallback(async (signal) => {
    try {
      const [a, b] = await Promise.all([api(`/api/journeys/${encodeURIComponent(id)}`, { signal }), api(`/api/journeys/${encodeURIComponent(id)}/stats`, { signal })]);
      setJ(a); setStats(b); setError(null);
    } catch (e) { if (!signal || !signal.aborted) setError(e); }
  }, [id]);
  useEffect(() => {
    const c = new AbortController();
    load(c.signal);
    const t = setInterval(() => { if (!document.hidden) load(c.signal); }, 10000);
    return () => { c.abort(); clearInterval(t); };
  }, [load]);
  const act = async (a) => {
    try { setJ(await api(`/api/journeys/${encodeURIComponent(id)}/${a}`, { method: 'POST' })); }
    catch (e) { setError(e); }
  };
  if (!j) return html`<div><${ErrorBox} error=${error} />${!error && html`<${Spinner} label="Loading the journey" />`}</div>`;
  return html`<div>
    <p><a href="/journeys">← Journeys</a></p>
    <div style="display:flex;gap:1rem;align-items:center;flex-wrap:wrap">
      <h1 style="margin-right:auto">${j.name} <${StatusBadge} status=${j.status} /></h1>
      ${actions[j.status].map((a) => html`<button class=${a === 'archive' ? 'btn danger' : 'btn'} id=${`jr-${a}`} onClick=${() => act(a)}>${a[0].toUpperCase() + a.slice(1)}</button>`)}
    </div>
    ${j.description && html`<p class="muted">${j.description}</p>`}
    <${ErrorBox} error=${error} />
    <div class="grid">
      <div class="card"><div class="muted">Trigger</div><div>${triggerText(j.trigger)}</div></div>
      <div class="card"><div class="muted">Entered</div><div id="jr-entered">${fmtNum(j.entered)}</div></div>
      <div class="card"><div class="muted">In progress</div><div>${fmtNum(j.active)}</div></div>
      <div class="card"><div class="muted">Converted</div><div>${fmtNum(j.converted)}${j.goal ? ` (${j.goal.event} within ${j.goal.within})` : ''}</div></div>
      <div class="card"><div class="muted">Revenue</div><div>${fmtNum(Math.round(j.revenue || 0))}</div></div>
      <div class="card"><div class="muted">Version</div><div>v${j.version} of ${j.versions.length}</div></div>
    </div>
    <section class="card"><h2>Steps</h2><div style="overflow-x:auto"><${Graph} j=${j} stats=${stats} /></div>
      <${StepTable} j=${j} stats=${stats} /></section>
    <section class="card"><${Days} stats=${stats} /></section>
    <${DryRun} id=${id} />
  </div>`;
}
