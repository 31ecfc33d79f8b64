// Profiles: find customers by any identifier (GET /api/profiles/{identifier})
// or by a trait (GET /api/profiles?trait=&op=&value=). The search lives in
// the query string (?id=… or ?trait=…&op=…&value=…), so results can be
// linked to and the back button returns to them.
import { html, useState, useEffect, api, navigate, ErrorBox, Spinner, fmtNum, fmtAgo, fmtTime } from '../lib.js';
import { displayName, identityOf } from '../components/web-profile.js';

const ops = [['eq', 'equals'], ['prefix', 'starts with'], ['contains', 'contains']];
const limit = 50;

export default function Page({ query }) {
  const [ident, setIdent] = useState(query.id || '');
  const [trait, setTrait] = useState(query.trait || 'email');
  const [op, setOp] = useState(query.op || 'eq');
  const [value, setValue] = useState(query.value || '');
  const [state, setState] = useState({ loading: false, error: null, profiles: null });

  const searchKey = query.id ? `id:${query.id}` : query.trait && query.value !== undefined ? `t:${query.trait}:${query.op}:${query.value}` : '';
  useEffect(() => {
    if (!searchKey) { setState({ loading: false, error: null, profiles: null }); return; }
    const ctl = new AbortController();
    setState({ loading: true, error: null, profiles: null });
    const req = query.id
      ? api(`/api/profiles/${encodeURIComponent(query.id)}`, { signal: ctl.signal }).then((p) => [p], (err) => {
        if (err.status === 404) return [];
        throw err;
      })
      : api(`/api/profiles?${new URLSearchParams({ trait: query.trait, op: query.op || 'eq', value: query.value, limit })}`, { signal: ctl.signal })
        .then((r) => r.profiles || []);
    req.then((profiles) => setState({ loading: false, error: null, profiles }),
      (error) => { if (error.name !== 'AbortError') setState({ loading: false, error, profiles: null }); });
    return () => ctl.abort();
  }, [searchKey]);

  const byIdent = (ev) => {
    ev.preventDefault();
    if (ident.trim()) navigate(`/profiles?${new URLSearchParams({ id: ident.trim() })}`);
  };
  const byTrait = (ev) => {
    ev.preventDefault();
    if (trait.trim()) navigate(`/profiles?${new URLSearchParams({ trait: trait.trim(), op, value })}`);
  };

  return html`<h1>Profiles</h1>
  <div class="grid search-forms">
    <form class="card" onSubmit=${byIdent} role="search" aria-label="Find by identifier">
      <h2>Find a customer</h2>
      <label for="find-id">User id, anonymous id, email, phone or profile id</label>
      <div class="row">
        <input id="find-id" type="search" value=${ident} placeholder="user-3" autocomplete="off"
          onInput=${(e) => setIdent(e.currentTarget.value)} />
        <button class="btn primary" type="submit">Find</button>
      </div>
    </form>
    <form class="card" onSubmit=${byTrait} role="search" aria-label="Find by trait">
      <h2>Find by trait</h2>
      <div class="row">
        <div><label for="find-trait">Trait</label>
          <input id="find-trait" value=${trait} size="10" onInput=${(e) => setTrait(e.currentTarget.value)} /></div>
        <div><label for="find-op">Match</label>
          <select id="find-op" value=${op} onChange=${(e) => setOp(e.currentTarget.value)}>
            ${ops.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
          </select></div>
        <div><label for="find-value">Value</label>
          <input id="find-value" value=${value} size="14" onInput=${(e) => setValue(e.currentTarget.value)} /></div>
        <button class="btn primary" type="submit">Search</button>
      </div>
    </form>
  </div>
  <${ErrorBox} error=${state.error} />
  ${state.loading && html`<${Spinner} label="Searching…" />`}
  ${state.profiles && html`<${Results} profiles=${state.profiles} query=${query} />`}`;
}

function Results({ profiles, query }) {
  if (profiles.length === 0) {
    return html`<p class="card" role="status">No profile matches ${query.id ? html`<code>${query.id}</code>`
      : html`${query.trait} ${query.op || 'eq'} <code>${query.value}</code>`}.</p>`;
  }
  return html`<section class="card" aria-labelledby="results-title">
    <h2 id="results-title">${profiles.length === limit ? `First ${limit} profiles` : `${profiles.length} ${profiles.length === 1 ? 'profile' : 'profiles'}`}</h2>
    <div class="table-wrap"><table data-testid="profile-results">
      <thead><tr><th>Customer</th><th>User id</th><th>Email</th><th class="right">Orders</th>
        <th class="right">Revenue</th><th>Last seen</th></tr></thead>
      <tbody>${profiles.map((p) => {
        const c = p.computed || {};
        return html`<tr>
          <td><a href=${`/profiles/${encodeURIComponent(p.id)}`}>${displayName(p)}</a></td>
          <td class="mono">${identityOf(p, 'user_id') || html`<span class="muted">–</span>`}</td>
          <td>${(p.traits && p.traits.email) || identityOf(p, 'email') || html`<span class="muted">–</span>`}</td>
          <td class="right">${fmtNum(c.orders || 0)}</td>
          <td class="right">${fmtNum(c.total_revenue || 0)}</td>
          <td title=${fmtTime(c.last_seen)}>${fmtAgo(c.last_seen)}</td>
        </tr>`;
      })}</tbody>
    </table></div>
  </section>`;
}
