// One segment: its size history, entries and exits per day, its members
// (paginated, each linked to its profile and to why it is a member) and
// the downloads (CSV, NDJSON, hashed ad audience).
import { html, useState, useEffect, useMemo, api, ErrorBox, Spinner, Chart, fmtNum, fmtTime, fmtAgo } from '../lib.js';
import { fixErr } from '../components/seg-rules.js';

const PAGE = 50;
const RANGES = [[30, '30 days'], [90, '90 days'], [365, 'a year']];

function dayUnix(day) {
  return Date.parse(day + 'T00:00:00Z') / 1000;
}

// fullRange spreads history over the whole range asked for: the days
// before the segment existed are gaps (null), so that a young segment's
// few points sit at the right end of a range of the chosen width.
function fullRange(hist, days) {
  if (!hist.length) return { x: [], rows: [] };
  const last = dayUnix(hist[hist.length - 1].day);
  const first = last - (days - 1) * 86400;
  const byDay = new Map(hist.map((d) => [dayUnix(d.day), d]));
  const x = [];
  const rows = [];
  for (let t = first; t <= last; t += 86400) {
    x.push(t);
    rows.push(byDay.get(t) || null);
  }
  return { x, rows };
}

const CSS = `
.seg-page-grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 22rem), 1fr)); gap: 1rem; }
.seg-page-grid > * { min-width: 0; }
.seg-page-grid table { width: 100%; }
.seg-page-grid td a { word-break: break-all; }
#dl-fields { width: 100%; box-sizing: border-box; }
`;

function Members({ id }) {
  // cursors[i] is the cursor of page i (the first is '').
  const [cursors, setCursors] = useState(['']);
  const [page, setPage] = useState(0);
  const [data, setData] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    const c = new AbortController();
    setData(null);
    const cur = cursors[page];
    api(`/api/segments/${encodeURIComponent(id)}/members?limit=${PAGE}${cur ? `&cursor=${encodeURIComponent(cur)}` : ''}`, { signal: c.signal })
      .then((r) => {
        setData(r);
        setError(null);
        if (r.next_cursor && cursors.length === page + 1) setCursors((cs) => [...cs, r.next_cursor]);
      })
      .catch((e) => { if (!c.signal.aborted) setError(fixErr(e)); });
    return () => c.abort();
  }, [id, page]);
  return html`<section class="card" aria-labelledby="members-h">
    <h2 id="members-h">Members</h2>
    <${ErrorBox} error=${error} />
    ${data === null && !error ? html`<${Spinner} label="Loading members" />` : data && html`
      ${data.members.length === 0 ? html`<p class="muted">No members.</p>` : html`<table id="members">
        <thead><tr><th scope="col">#</th><th scope="col">Profile</th><th scope="col">Why</th></tr></thead>
        <tbody>${data.members.map((m, i) => html`<tr key=${m}>
          <td class="muted">${page * PAGE + i + 1}</td>
          <td><a href=${`/profiles/${encodeURIComponent(m)}`}>${m}</a></td>
          <td><a href=${`/segments/${encodeURIComponent(id)}/why/${encodeURIComponent(m)}`} aria-label=${`why ${m} is a member`}>why?</a></td>
        </tr>`)}</tbody></table>`}
      <nav class="seg-row" aria-label="member pages" style="display:flex;gap:.5rem;align-items:center;margin-top:.5rem">
        <button type="button" class="btn" disabled=${page === 0} onClick=${() => setPage(page - 1)}>← Previous</button>
        <span class="muted">page ${page + 1}</span>
        <button type="button" class="btn" disabled=${!data.next_cursor} onClick=${() => setPage(page + 1)}>Next →</button>
      </nav>`}
  </section>`;
}

function Downloads({ id, traits }) {
  const fields = ['id', ...['email', 'phone', 'user_id'].filter((t) => traits.includes(t)), 'orders', 'total_spend', 'lifecycle'];
  const [cols, setCols] = useState(fields.join(','));
  const base = `/api/segments/${encodeURIComponent(id)}/export`;
  const q = (format) => `${base}?format=${format}&fields=${encodeURIComponent(cols)}`;
  return html`<section class="card" aria-labelledby="dl-h">
    <h2 id="dl-h">Downloads</h2>
    <p><label for="dl-fields">Columns</label>
      <input id="dl-fields" value=${cols} onInput=${(e) => setCols(e.currentTarget.value)} /></p>
    <p style="display:flex;gap:.5rem;flex-wrap:wrap">
      <a class="btn" id="dl-csv" href=${q('csv')} download=${`${id}.csv`} target="_blank" rel="noopener" data-native>Members CSV</a>
      <a class="btn" id="dl-ndjson" href=${q('ndjson')} download=${`${id}.ndjson`} target="_blank" rel="noopener" data-native>Members NDJSON</a>
      <a class="btn" id="dl-audience" href=${`${base}?format=audience`} download=${`${id}-audience.csv`} target="_blank" rel="noopener" data-native>Ad audience (hashed email and phone)</a>
    </p>
  </section>`;
}

export default function Page({ params }) {
  const id = params.id;
  const [seg, setSeg] = useState(null);
  const [hist, setHist] = useState(null);
  const [days, setDays] = useState(90);
  const [traits, setTraits] = useState([]);
  const [error, setError] = useState(null);
  useEffect(() => {
    const c = new AbortController();
    api(`/api/segments/${encodeURIComponent(id)}`, { signal: c.signal }).then(setSeg).catch((e) => { if (!c.signal.aborted) setError(fixErr(e)); });
    api('/api/segments/vocabulary', { signal: c.signal }).then((v) => setTraits(v.traits || [])).catch(() => {});
    return () => c.abort();
  }, [id]);
  useEffect(() => {
    const c = new AbortController();
    api(`/api/segments/${encodeURIComponent(id)}/history?days=${days}`, { signal: c.signal })
      .then((r) => setHist(r.days)).catch((e) => { if (!c.signal.aborted) setError(fixErr(e)); });
    return () => c.abort();
  }, [id, days]);

  // Charts redraw when their arrays change: build them once per answer.
  const charts = useMemo(() => {
    if (!hist) return null;
    const { x, rows } = fullRange(hist, days);
    const col = (k) => rows.map((d) => (d ? d[k] : null));
    // Days without a record are gaps: a day between two gaps (the first day
    // of a new segment) shows only as a dot.
    return { x, points: (hist.length < 2 || rows.some((d, i) => d && !rows[i - 1] && !rows[i + 1])) || undefined,
      size: [{ label: 'members', values: col('size') }], flow: [{ label: 'entered', values: col('entered') }, { label: 'exited', values: col('exited') }] };
  }, [hist, days]);
  if (error) return html`<${ErrorBox} error=${error} />`;
  if (!seg) return html`<${Spinner} label="Loading the segment" />`;
  return html`<div><style>${CSS}</style>
    <div style="display:flex;align-items:center;gap:1rem;flex-wrap:wrap">
      <h1 style="margin-right:auto">${seg.name || seg.id}</h1>
      <a class="btn primary" href=${`/segments/${encodeURIComponent(id)}/edit`}>Edit rule</a>
      <a class="btn" href=${`/segments/new?from=${encodeURIComponent(id)}`}>Duplicate</a>
    </div>
    ${seg.description && html`<p>${seg.description}</p>`}
    <div class="seg-page-grid">
      <section class="card"><h2>Members now</h2><p class="seg-count" id="seg-size" style="font-size:2rem;font-weight:600">${fmtNum(seg.size)}</p>
        <p class="muted">+${fmtNum(seg.entered)} entered, −${fmtNum(seg.exited)} exited since the server started</p></section>
      <section class="card"><h2>Rule</h2><pre style="white-space:pre-wrap" id="seg-rule-text">${seg.text}</pre>
        <p class="muted">id ${seg.id} · created ${fmtTime(seg.created_at)} · rule changed ${fmtAgo(seg.updated_at)}</p></section>
    </div>
    <section class="card" aria-labelledby="hist-h">
      <div style="display:flex;gap:1rem;align-items:center;flex-wrap:wrap">
        <h2 id="hist-h" style="margin-right:auto">History</h2>
        <label for="hist-days">Range</label>
        <select id="hist-days" onChange=${(e) => setDays(Number(e.currentTarget.value))}>
          ${RANGES.map(([n, l]) => html`<option value=${n} selected=${n === days}>${l}</option>`)}</select>
      </div>
      ${charts === null ? html`<${Spinner} label="Loading the history" />` : html`
        <div id="size-chart"><${Chart} title="Members per day" x=${charts.x} series=${charts.size} height=${220} points=${charts.points} /></div>
        <div id="flow-chart"><${Chart} title="Entries and exits per day" x=${charts.x} series=${charts.flow} height=${180} points=${charts.points} /></div>
        <p class="muted" id="hist-note">${hist.length < 2
          ? `Only today so far (${fmtNum(hist[0]?.size)} members, +${fmtNum(hist[0]?.entered)} −${fmtNum(hist[0]?.exited)}): the lines fill in day by day from the day the segment was created.`
          : `${hist.length} days of history (it starts on the day the segment was created).`}</p>`}
    </section>
    <div class="seg-page-grid">
      <${Members} id=${id} />
      <${Downloads} key=${traits.join(',')} id=${id} traits=${traits} />
    </div>
  </div>`;
}
