// The profile 360: figures and model scores as cards, identities and merges,
// traits, computed fields, the segments the profile is in (each with "why?"),
// its consent and message history, and the timeline, newest first, loading more as it is scrolled.
import {
  html, useState, useEffect, useRef, useCallback, api, ErrorBox, Spinner, fmtNum, fmtTime, fmtAgo,
} from '../lib.js';
import { displayName } from '../components/web-profile.js';
import { ConsentSection } from '../components/msg-consent.js';
import { PredictionsCard, predictionFields } from '../components/pred-profile.js';
import { MessageHistory } from '../components/jdash-messages.js';

const pageSize = 50;

export default function Page({ params }) {
  const ident = params.id;
  const enc = encodeURIComponent(ident);
  const [p, setP] = useState(null);
  const [error, setError] = useState(null);
  const [view, setView] = useState(null); // {segments, computed} from the segment engine
  const [viewError, setViewError] = useState(null);
  const [merges, setMerges] = useState(null);
  const [mergesError, setMergesError] = useState(null);

  useEffect(() => {
    const ctl = new AbortController();
    const signal = ctl.signal;
    const quiet = (set) => (err) => { if (err.name !== 'AbortError') set(err); };
    api(`/api/profiles/${enc}`, { signal }).then(setP, quiet(setError));
    api(`/api/profiles/${enc}/segments`, { signal }).then(setView, quiet(setViewError));
    api(`/api/profiles/${enc}/merges`, { signal }).then((r) => setMerges(r.merges || []), quiet(setMergesError));
    return () => ctl.abort();
  }, [ident]);

  if (error) {
    return html`<h1>Profile</h1><${ErrorBox} error=${error.status === 404
      ? { message: `No profile for "${ident}". Search for it on the Profiles page.` } : error} />
      <p><a href="/profiles">Back to profiles</a></p>`;
  }
  if (!p) return html`<h1>Profile</h1><${Spinner} label="Loading profile…" />`;
  const c = p.computed || {};
  const m = (view && view.computed) || {};
  return html`<style>${css}</style>
  <p class="small"><a href="/profiles">Profiles</a> /</p>
  <h1>${displayName(p)} <span class="muted small mono">${p.id}</span></h1>
  <div class="grid stats" data-testid="profile-stats">
    <${Stat} label="Orders" id="orders" value=${fmtNum(c.orders || 0)} />
    <${Stat} label="Revenue" id="revenue" value=${fmtNum(c.total_revenue || 0)} />
    <${Stat} label="Average order" id="aov" value=${fmtNum(c.average_order_value)} />
    <${Stat} label="Events" id="events" value=${fmtNum(c.event_count || 0)} />
    <${Stat} label="Last seen" id="last-seen" value=${fmtAgo(c.last_seen)} hint=${fmtTime(c.last_seen)} />
    <${Stat} label="Lifecycle" id="lifecycle" value=${m.lifecycle || '–'} hint="new, active, at risk, lapsed or prospect" />
    <${Stat} label="Spend tier" id="spend-tier" value=${m.spend_tier || '–'} hint="by spend over the last 12 months" />
    <${Stat} label="RFM" id="rfm" value=${m.rfm ?? '–'}
      hint=${m.rfm ? `recency ${m.rfm_recency}, frequency ${m.rfm_frequency}, monetary ${m.rfm_monetary} (1–5 each)` : 'no orders'} />
  </div>
  <div class="profile-cols">
    <div>
      <${Segments} view=${view} error=${viewError} ident=${p.id} />
      <${PredictionsCard} m=${m} />
      <${ConsentSection} ident=${p.id} />
      <${Identities} p=${p} merges=${merges} error=${mergesError} />
      <section class="card" aria-labelledby="traits-title">
        <h2 id="traits-title">Traits</h2>
        <${KV} obj=${p.traits} empty="No traits yet." />
      </section>
      <${Computed} c=${c} m=${m} />
    </div>
    <div>
      <${MessageHistory} ident=${p.id} />
      <${Timeline} enc=${enc} />
    </div>
  </div>`;
}

const css = `
.stats { grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); }
.stats .stat { font-size: 1.35rem; }
td.mono { word-break: break-all; }
.stats .card { padding: .7rem var(--gap); }
.profile-cols { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 3fr); gap: var(--gap); align-items: start; }
@media (max-width: 1000px) { .profile-cols { grid-template-columns: minmax(0, 1fr); } }
.timeline { list-style: none; margin: 0; padding: 0; }
.timeline li { border-bottom: 1px solid var(--border); }
.timeline summary { cursor: pointer; padding: .45rem .2rem; display: flex; gap: .6rem; flex-wrap: wrap; align-items: baseline; }
.timeline summary .when { color: var(--muted); font-size: .85rem; min-width: 10.5rem; font-variant-numeric: tabular-nums; }
.timeline pre { margin: 0 0 .6rem; font-size: .8rem; }
.seglist { list-style: none; margin: 0; padding: 0; }
.seglist li { display: flex; justify-content: space-between; gap: .6rem; padding: .3rem 0; border-bottom: 1px solid var(--border); }
`;

function Stat({ label, id, value, hint }) {
  return html`<div class="card" title=${hint || undefined}>
    <div class="muted small" id=${`stat-${id}-label`}>${label}</div>
    <div class="stat" data-testid=${`stat-${id}`} aria-labelledby=${`stat-${id}-label`}>${value}</div>
  </div>`;
}

function show(v) {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'object') return html`<code>${JSON.stringify(v)}</code>`;
  if (typeof v === 'number') return fmtNum(v);
  return String(v);
}

function KV({ obj, empty }) {
  const keys = Object.keys(obj || {}).sort();
  if (keys.length === 0) return html`<p class="muted">${empty}</p>`;
  return html`<dl class="kv">${keys.map((k) => html`<dt>${k}</dt><dd>${show(obj[k])}</dd>`)}</dl>`;
}

function Segments({ view, error, ident }) {
  return html`<section class="card" aria-labelledby="segs-title">
    <h2 id="segs-title">Segments</h2>
    <${ErrorBox} error=${error} />
    ${!view && !error && html`<${Spinner} />`}
    ${view && (view.segments.length === 0 ? html`<p class="muted">In no saved segment.</p>`
      : html`<ul class="seglist" data-testid="profile-segments">${view.segments.map((s) => html`<li>
        <a href=${`/segments/${encodeURIComponent(s.id)}`}>${s.name || s.id}</a>
        <a href=${`/segments/${encodeURIComponent(s.id)}/why/${encodeURIComponent(ident)}`}
          aria-label=${`Why is this customer in ${s.name || s.id}?`}>why?</a></li>`)}</ul>`)}
  </section>`;
}

function Identities({ p, merges, error }) {
  return html`<section class="card" aria-labelledby="ids-title">
    <h2 id="ids-title">Identities</h2>
    <div class="table-wrap"><table>
      <thead><tr><th>Type</th><th>Value</th></tr></thead>
      <tbody>${(p.identities || []).map((i) => html`<tr><td>${i.type}</td><td class="mono">${i.value}</td></tr>`)}</tbody>
    </table></div>
    <h3 style="margin-top:var(--gap)">Merges</h3>
    ${error ? html`<${ErrorBox} error=${{ message: `The merges could not be loaded: ${error.message || error}` }} />`
      : merges === null ? html`<${Spinner} />` : merges.length === 0
      ? html`<p class="muted">No other profile was merged into this one.</p>`
      : html`<ul>${merges.map((m) => html`<li>${fmtTime(m.at)}: <span class="mono">${m.from}</span> merged in
        ${m.via ? `(${m.via}, by ${m.type || 'a message'} ${m.message_id})` : ''}, moving
        ${(m.moved_identities || []).map((i) => `${i.type} ${i.value}`).join(', ') || 'no identities'}</li>`)}</ul>`}
  </section>`;
}

// Figures shown as cards above are left out here.
const shownAbove = new Set(['orders', 'total_revenue', 'average_order_value', 'event_count', 'last_seen',
  'lifecycle', 'spend_tier', 'rfm', 'rfm_recency', 'rfm_frequency', 'rfm_monetary', ...predictionFields]);

function Computed({ c, m }) {
  const rest = {};
  for (const [k, v] of Object.entries(c)) if (!shownAbove.has(k) && !Array.isArray(v) && (typeof v !== 'object' || v === null)) rest[k] = v;
  for (const [k, v] of Object.entries(m)) if (!shownAbove.has(k) && !(k in rest) && !(k in c)) rest[k] = v;
  const lists = [['event_counts', 'Events by name'], ['type_counts', 'Events by type']];
  const recent = [['recently_viewed', 'Recently viewed'], ['recently_carted', 'Recently added to cart'], ['recently_purchased', 'Recently purchased']];
  return html`<section class="card" aria-labelledby="computed-title">
    <h2 id="computed-title">Computed fields</h2>
    <${KV} obj=${rest} empty="None yet." />
    ${lists.filter(([k]) => c[k] && Object.keys(c[k]).length).map(([k, title]) => html`
      <h3 style="margin-top:var(--gap)">${title}</h3><${KV} obj=${c[k]} />`)}
    ${recent.filter(([k]) => c[k] && c[k].length).map(([k, title]) => html`
      <h3 style="margin-top:var(--gap)">${title}</h3>
      <ul class="small">${c[k].map((x) => html`<li><span class="mono">${x.product_id}</span> <span class="muted">${fmtAgo(x.at)}</span></li>`)}</ul>`)}
  </section>`;
}

function Timeline({ enc }) {
  const [events, setEvents] = useState([]);
  const [cursor, setCursor] = useState(''); // the next page's; '' before the first and after the last
  const [done, setDone] = useState(false);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState(null);
  const [partial, setPartial] = useState(false);
  const sentinel = useRef(null);
  const busy = useRef(false);

  const more = useCallback(async () => {
    if (busy.current || done) return;
    busy.current = true;
    setLoading(true);
    setError(null);
    try {
      const q = new URLSearchParams({ limit: pageSize });
      if (cursor) q.set('cursor', cursor);
      const r = await api(`/api/profiles/${enc}/timeline?${q}`);
      setEvents((old) => old.concat(r.events || []));
      setCursor(r.next_cursor || '');
      setPartial(!!r.partial);
      if (!r.next_cursor) setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      busy.current = false;
      setLoading(false);
    }
  }, [enc, cursor, done]);

  // The first page, then a page each time the end of the list scrolls into view.
  useEffect(() => {
    const el = sentinel.current;
    if (!el || done || error) return;
    const io = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) more();
    }, { rootMargin: '400px' });
    io.observe(el);
    return () => io.disconnect();
  }, [more, done, error]);

  return html`<section class="card" aria-labelledby="timeline-title">
    <h2 id="timeline-title">Timeline <span class="muted small">${events.length} ${done ? 'events' : 'events so far'}, newest first</span></h2>
    ${partial && html`<p class="muted small">This profile has more identities than one query searches; the events of some are missing.</p>`}
    <ol class="timeline" data-testid="timeline">${events.map((e) => html`<${TimelineEvent} key=${e.message_id} e=${e} />`)}</ol>
    <${ErrorBox} error=${error} />
    <div ref=${sentinel} class="row" style="padding-top:.6rem">
      ${loading && html`<${Spinner} label="Loading events…" />`}
      ${!loading && !done && html`<button class="btn" type="button" onClick=${more}>Load more events</button>`}
      ${done && html`<span class="muted small">${events.length ? 'The first event of this profile.' : 'No events.'}</span>`}
    </div>
  </section>`;
}

function TimelineEvent({ e }) {
  const [open, setOpen] = useState(false);
  const what = e.event || e.name || (e.traits ? Object.keys(e.traits).slice(0, 3).join(', ') : '');
  return html`<li>
    <details onToggle=${(ev) => setOpen(ev.currentTarget.open)}>
      <summary><span class="when" title=${e.timestamp}>${fmtTime(e.timestamp)}</span>
        <span class="badge">${e.type}</span> <span>${what}</span></summary>
      ${open && html`<pre data-testid="event-json">${JSON.stringify(e, null, 2)}</pre>`}
    </details>
  </li>`;
}
