// Sources and write keys: every sender of events with its key (GET
// /api/sources), a new one (POST), revoking one (DELETE, after a
// confirmation), and ready snippets for analytics.js, analytics-node and
// analytics-go pointed at this server with the key filled in.
import { html, useState, useEffect, api, ErrorBox, Spinner, fmtTime } from '../lib.js';
import { CopyButton } from '../components/live-common.js';

// snippets are the SDK settings that send to this server (location.origin).
function snippets(key) {
  const origin = location.origin;
  const host = location.host;
  const protocol = location.protocol.replace(':', '');
  return [
    ['analytics.js', 'Browser: @segment/analytics-next (npm); no request goes to Segment',
      `import { AnalyticsBrowser } from '@segment/analytics-next'

const tailor = { apiKey: '${key}', apiHost: '${host}/v1', protocol: '${protocol}' }
export const analytics = AnalyticsBrowser.load(
  { writeKey: '${key}', cdnSettings: { integrations: { 'Segment.io': tailor } } },
  { integrations: { 'Segment.io': tailor } },
)

analytics.track('Product Viewed', { product_id: 'sku-1', price: 12.5 })`],
    ['analytics-node', 'Node: @segment/analytics-node (npm)',
      `import { Analytics } from '@segment/analytics-node'

const analytics = new Analytics({ writeKey: '${key}', host: '${origin}' })

analytics.track({ userId: 'user-1', event: 'Order Completed', properties: { revenue: 42 } })
await analytics.closeAndFlush()`],
    ['analytics-go', 'Go: github.com/segmentio/analytics-go/v3',
      `client, err := analytics.NewWithConfig("${key}", analytics.Config{Endpoint: "${origin}"})
if err != nil {
	log.Fatal(err)
}
defer client.Close()

client.Enqueue(analytics.Track{UserId: "user-1", Event: "Order Completed",
	Properties: analytics.NewProperties().Set("revenue", 42)})`],
  ];
}

function Snippets({ source }) {
  const all = snippets(source.write_key);
  const [tab, setTab] = useState(0);
  const [, hint, code] = all[tab];
  return html`<section class="card" aria-labelledby="snip-h">
    <h2 id="snip-h">Send events as “${source.name}”</h2>
    <div role="tablist" aria-label="SDK" class="row">
      ${all.map(([name], i) => html`<button type="button" role="tab" id=${'snip-tab-' + i} aria-selected=${i === tab}
        aria-controls="snip-panel" class=${'btn' + (i === tab ? ' primary' : '')} onClick=${() => setTab(i)}>${name}</button>`)}
    </div>
    <div id="snip-panel" role="tabpanel" aria-labelledby=${'snip-tab-' + tab}>
      <p class="muted small">${hint}</p>
      <pre data-testid="snippet"><code>${code}</code></pre>
      <${CopyButton} text=${code} label="Copy snippet" what=${all[tab][0]} />
    </div>
  </section>`;
}

function Row({ s, selected, onSelect, onRevoked }) {
  const [confirm, setConfirm] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const revoke = async () => {
    setBusy(true);
    setError(null);
    try {
      await api(`/api/sources/${encodeURIComponent(s.id)}`, { method: 'DELETE' });
      onRevoked(s.id);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  return html`<tr data-source=${s.id} class=${selected ? 'src-selected' : ''}>
    <th scope="row">${s.name}<div class="muted small mono">${s.id}</div></th>
    <td><span class="badge">${s.trust || 'server'}</span></td>
    <td><code class="src-key" data-testid=${'key-' + s.id}>${s.write_key}</code>
      <div><${CopyButton} text=${s.write_key} label="Copy key" what=${'of ' + s.name} /></div></td>
    <td class="small nowrap">${s.created_at ? fmtTime(s.created_at) : '–'}</td>
    <td>
      <button class="btn" type="button" onClick=${() => onSelect(s.id)} aria-pressed=${selected}>Snippets</button>
      ${s.id === 'default' ? html` <span class="muted small">(set with --write-key)</span>`
        : confirm ? html`<div role="group" aria-label=${'Confirm revoking ' + s.name} class="src-confirm">
            <p class="small">Revoke the key of “${s.name}”? Events sent with it will be refused; those already received stay.</p>
            <button class="btn danger" type="button" onClick=${revoke} disabled=${busy}>Yes, revoke</button>
            <button class="btn" type="button" onClick=${() => setConfirm(false)} disabled=${busy}>Cancel</button>
          </div>`
        : html` <button class="btn danger" type="button" onClick=${() => setConfirm(true)} aria-label=${'Revoke ' + s.name}>Revoke</button>`}
      <${ErrorBox} error=${error} />
    </td>
  </tr>`;
}

export default function Page() {
  const [list, setList] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState('default');
  const [name, setName] = useState('');
  const [trust, setTrust] = useState('server');
  const [creating, setCreating] = useState(false);
  const [createError, setCreateError] = useState(null);
  const [notice, setNotice] = useState('');

  const load = () => api('/api/sources').then((r) => { setList(r.sources || []); setError(null); }, setError);
  useEffect(() => { load(); }, []);

  const create = async (ev) => {
    ev.preventDefault();
    setCreating(true);
    setCreateError(null);
    try {
      const s = await api('/api/sources', { method: 'POST', body: { name: name.trim(), trust } });
      setName('');
      setSelected(s.id);
      setNotice(`Created “${s.name}” with its own write key.`);
      await load();
    } catch (err) {
      setCreateError(err);
    } finally {
      setCreating(false);
    }
  };
  const revoked = (id) => {
    setNotice(`Revoked the key of ${id}.`);
    if (selected === id) setSelected('default');
    load();
  };
  const current = list && (list.find((s) => s.id === selected) || list[0]);

  return html`<style>
    .src-key { word-break: break-all; }
    .src-selected { background: var(--code-bg); }
    .src-confirm { margin-top: .4rem; }
    pre code { background: none; padding: 0; }
  </style>
  <h1>Sources</h1>
  <p class="muted">Each website, app or backend sends with its own write key. Revoking a key refuses its further events.</p>
  <${ErrorBox} error=${error} />
  ${notice && html`<p role="status" class="card">${notice}</p>`}
  ${!list && !error ? html`<${Spinner} />` : null}
  ${list && html`<section class="card" aria-labelledby="src-h"><h2 id="src-h">Sources and write keys</h2>
    <div class="table-wrap"><table>
      <thead><tr><th scope="col">Name</th><th scope="col">Trust</th><th scope="col">Write key</th><th scope="col">Created</th><th scope="col">Actions</th></tr></thead>
      <tbody>${list.map((s) => html`<${Row} key=${s.id} s=${s} selected=${current && s.id === current.id}
        onSelect=${setSelected} onRevoked=${revoked} />`)}</tbody>
    </table></div>
  </section>`}
  <form class="card" onSubmit=${create} aria-labelledby="new-src-h">
    <h2 id="new-src-h">New source</h2>
    <div class="row">
      <div><label for="src-name">Name</label>
        <input id="src-name" value=${name} required maxlength="200" placeholder="iOS app" onInput=${(e) => setName(e.currentTarget.value)} /></div>
      <div><label for="src-trust">Trust</label>
        <select id="src-trust" value=${trust} onChange=${(e) => setTrust(e.currentTarget.value)}>
          <option value="server">server (a backend)</option>
          <option value="client">client (a browser or app)</option>
        </select></div>
      <button class="btn primary" type="submit" disabled=${creating || !name.trim()}>Create source</button>
    </div>
    <p class="muted small">A client key is public (it ships in the page or app): an email or phone its events carry
      never joins them to an existing customer's profile. A server key's events may.</p>
    <${ErrorBox} error=${createError} />
  </form>
  ${current && html`<${Snippets} key=${current.id} source=${current} />`}`;
}
