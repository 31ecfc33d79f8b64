// Live events: a debugger of the messages arriving now (GET
// /api/events/stream, Server-Sent Events), accepted ones once they are
// durable and rejected ones with their reasons, filtered by source and type,
// with pause/resume; and the stored rejected messages (GET /api/rejected).
import { html, useState, useEffect, useRef, api, navigate, ApiError, ErrorBox, Spinner, fmtNum, fmtTime } from '../lib.js';

const keep = 200; // messages kept on screen, newest first
const types = ['track', 'identify', 'page', 'screen', 'group', 'alias'];

// explain finds out why the stream could not be opened: EventSource does
// not tell the status. A stream that opens is cut off at once.
async function explain(url) {
  const ctl = new AbortController();
  try {
    const res = await fetch(url, { signal: ctl.signal, credentials: 'same-origin', headers: { Accept: 'text/event-stream' } });
    if (res.ok) return null;
    let body = null;
    try { body = JSON.parse(await res.text()); } catch { /* not JSON */ }
    let e = (body && body.error) || {};
    if (typeof e === 'string') e = { message: e, code: body.code };
    if (res.status === 401) navigate('/login?next=' + encodeURIComponent(location.pathname + location.search));
    return new ApiError(res.status, e.code, e.message || res.statusText, body);
  } catch (err) {
    return new ApiError(0, 'network', `cannot reach the server (${err.message})`);
  } finally {
    ctl.abort();
  }
}

// useStream holds the live messages of source while running.
function useStream(source, running) {
  const [items, setItems] = useState([]);
  const [status, setStatus] = useState('connecting');
  const [error, setError] = useState(null);
  const [dropped, setDropped] = useState(0);
  // connected is the source of the open stream ('' for all), null while
  // none is open: until then, messages of the chosen source are not seen.
  const [connected, setConnected] = useState(null);
  const seq = useRef(0);
  useEffect(() => {
    setConnected(null);
    if (!running) { setStatus('paused'); return undefined; }
    const url = '/api/events/stream' + (source ? `?source=${encodeURIComponent(source)}` : '');
    const es = new EventSource(url);
    let gone = false;
    setStatus('connecting');
    const add = (ev) => {
      let e;
      try { e = JSON.parse(ev.data); } catch { return; }
      e.key = ++seq.current;
      setItems((list) => [e, ...list].slice(0, keep));
    };
    es.addEventListener('accepted', add);
    es.addEventListener('rejected', add);
    es.addEventListener('dropped', (ev) => {
      try { setDropped((n) => n + JSON.parse(ev.data).dropped); } catch { /* ignore */ }
    });
    es.onopen = () => { setStatus('live'); setError(null); setConnected(source); };
    es.onerror = () => {
      if (gone) return;
      setConnected(null);
      if (es.readyState === EventSource.CLOSED) {
        // Refused (not allowed, too many streams): say why, and stop.
        setStatus('stopped');
        explain(url).then((err) => { if (!gone) setError(err || new Error('the live stream closed; resume to reconnect')); });
      } else {
        setStatus('reconnecting');
      }
    };
    return () => { gone = true; es.close(); };
  }, [source, running]);
  return { items, setItems, status, error, dropped, setDropped, connected };
}

// segmentName names the segment of the events Tailor records when a
// profile enters or leaves one.
function segmentName(e) {
  if (e.event !== 'segment_entered' && e.event !== 'segment_exited') return '';
  const p = e.json && e.json.properties;
  return p && (p.segment_name || p.segment_id) ? `: ${p.segment_name || p.segment_id}` : '';
}

function Message({ e }) {
  const rejected = e.kind === 'rejected';
  const who = e.user_id ? `user ${e.user_id}` : e.anonymous_id ? `anon ${e.anonymous_id}` : '';
  let body = e.json;
  if (rejected) {
    try { body = JSON.parse(e.body); } catch { body = e.body; }
  }
  return html`<li class=${'ev' + (rejected ? ' ev-rejected' : '')} data-kind=${e.kind}>
    <details>
      <summary>
        <span class="mono small muted">${fmtTime(e.received_at)}</span>
        <span class=${'badge' + (rejected ? ' badge-bad' : '')}>${rejected ? 'rejected' : e.type}</span>
        <strong class="ev-name">${rejected ? e.reason : e.event || e.type}${segmentName(e)}</strong>
        <span class="muted small">${rejected ? `${e.endpoint || ''}${e.index >= 0 ? ` #${e.index}` : ''}` : who}</span>
        <span class="muted small ev-src">${e.source_id}</span>
      </summary>
      ${rejected && e.more > 0 && html`<p class="small muted">${fmtNum(e.more)} more messages of the same request were rejected.</p>`}
      ${!rejected && html`<p class="small muted">message id <code>${e.message_id}</code></p>`}
      <pre>${typeof body === 'string' ? body : JSON.stringify(body, null, 2)}</pre>
    </details>
  </li>`;
}

function Rejected() {
  const [state, setState] = useState({ list: null, error: null, loading: true });
  const load = () => {
    setState((s) => ({ ...s, loading: true }));
    api('/api/rejected?limit=50').then((r) => setState({ list: r.rejected || [], error: null, loading: false }),
      (error) => setState({ list: null, error, loading: false }));
  };
  useEffect(load, []);
  return html`<section class="card" id="rejected" aria-labelledby="rejected-h">
    <div class="ev-head"><h2 id="rejected-h">Rejected messages (stored)</h2>
      <button class="btn" type="button" onClick=${load} disabled=${state.loading}>Refresh</button></div>
    <p class="muted small">The newest messages ingest refused, with the reason; kept across restarts (the newest 10,000).</p>
    <${ErrorBox} error=${state.error} />
    ${state.loading && !state.list ? html`<${Spinner} />` : null}
    ${state.list && state.list.length === 0 && html`<p>No rejected messages.</p>`}
    ${state.list && state.list.length > 0 && html`<div class="table-wrap"><table data-testid="rejected-table">
      <thead><tr><th scope="col">Time</th><th scope="col">Source</th><th scope="col">Endpoint</th><th scope="col">Reason</th><th scope="col">Message</th></tr></thead>
      <tbody>${state.list.map((r, i) => html`<tr key=${i}>
        <td class="nowrap small">${fmtTime(r.at)}</td><td>${r.source_id}</td>
        <td class="small mono">${r.endpoint}${r.index >= 0 ? ` #${r.index}` : ''}</td>
        <td>${r.reason}${r.more > 0 ? html` <span class="muted small">(+${fmtNum(r.more)} more)</span>` : ''}</td>
        <td><details><summary>show</summary><pre>${r.body}</pre></details></td></tr>`)}</tbody>
    </table></div>`}
  </section>`;
}

export default function Page({ query }) {
  const source = query.source || '';
  const [running, setRunning] = useState(true);
  const [type, setType] = useState('');
  const [sources, setSources] = useState(null);
  const { items, setItems, status, error, dropped, setDropped, connected } = useStream(source, running);
  useEffect(() => {
    // Listing sources needs the admin role; others type the id.
    api('/api/sources').then((r) => setSources(r.sources || []), () => setSources(false));
  }, []);
  const setSource = (v) => navigate('/events' + (v ? `?source=${encodeURIComponent(v)}` : ''));
  const shown = items.filter((e) => !type || (type === 'rejected' ? e.kind === 'rejected' : e.kind === 'accepted' && e.type === type));
  const statusText = { live: 'Live', connecting: 'Connecting…', reconnecting: 'Reconnecting…', paused: 'Paused', stopped: 'Stopped' }[status];

  return html`<style>
    .ev-head { display: flex; justify-content: space-between; align-items: center; gap: .5rem; flex-wrap: wrap; }
    .ev-list { list-style: none; margin: 0; padding: 0; }
    .ev { border-bottom: 1px solid var(--border); }
    .ev summary { display: flex; gap: .6rem; align-items: baseline; flex-wrap: wrap; padding: .4rem .2rem; cursor: pointer; }
    .ev-name { overflow-wrap: anywhere; }
    .ev-src { margin-left: auto; }
    .ev-rejected { background: var(--error-bg); }
    .badge-bad { background: var(--danger); color: #fff; }
    .live-dot { display: inline-block; width: .6em; height: .6em; border-radius: 50%; background: var(--muted); margin-right: .3em; }
    .live-dot.on { background: var(--ok); }
  </style>
  <h1>Live events</h1>
  <section class="card" aria-label="Live events">
    <div class="row">
      <div><label for="ev-source">Source</label>
        ${sources ? html`<select id="ev-source" value=${source} onChange=${(e) => setSource(e.currentTarget.value)}>
            <option value="">All sources</option>
            ${sources.map((s) => html`<option value=${s.id}>${s.name} (${s.id})</option>`)}
            <option value="tailor">Tailor itself (segment changes)</option>
            ${source && !sources.some((s) => s.id === source) && source !== 'tailor' && html`<option value=${source}>${source}</option>`}
          </select>`
        : html`<input id="ev-source" value=${source} placeholder="all sources" size="14"
            onChange=${(e) => setSource(e.currentTarget.value.trim())} />`}
      </div>
      <div><label for="ev-type">Type</label>
        <select id="ev-type" value=${type} onChange=${(e) => setType(e.currentTarget.value)}>
          <option value="">All</option>
          ${types.map((t) => html`<option value=${t}>${t}</option>`)}
          <option value="rejected">rejected</option>
        </select></div>
      <button class="btn" type="button" onClick=${() => setRunning(!running)} aria-pressed=${!running}>
        ${running ? 'Pause' : 'Resume'}</button>
      <button class="btn" type="button" onClick=${() => { setItems([]); setDropped(0); }}>Clear</button>
      <span role="status" data-testid="stream-status" data-source=${connected ?? undefined}><span class=${'live-dot' + (status === 'live' ? ' on' : '')} aria-hidden="true"></span>${statusText}</span>
    </div>
    <${ErrorBox} error=${error} />
    ${dropped > 0 && html`<p class="small" role="status">${fmtNum(dropped)} messages were not shown: they arrived faster than this page could take them.</p>`}
    <p class="muted small">${shown.length === 0
      ? (running ? 'Waiting for messages… send one with any SDK and it shows here once it is on disk.' : 'Paused.')
      : `${fmtNum(shown.length)} of the last ${fmtNum(items.length)} messages; click one to see its JSON.`}</p>
    <ul class="ev-list" data-testid="events-list">${shown.map((e) => html`<${Message} key=${e.key} e=${e} />`)}</ul>
  </section>
  <${Rejected} />`;
}
