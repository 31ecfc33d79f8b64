// Users (admins only): the dashboard's accounts, adding and removing them
// (GET/POST /api/users, DELETE /api/users/{email}).
import { html, useState, useEffect, api, ErrorBox, Spinner, fmtTime, useMe } from '../lib.js';

const roles = [
  ['viewer', 'viewer: reads everything'],
  ['editor', 'editor: also edits segments and the catalog'],
  ['admin', 'admin: also sources and users'],
];

export default function Page() {
  const me = useMe();
  const [users, setUsers] = useState(null);
  const [error, setError] = useState(null);
  const [reload, setReload] = useState(0);

  useEffect(() => {
    const ctl = new AbortController();
    api('/api/users', { signal: ctl.signal }).then((r) => { setUsers(r.users || []); setError(null); },
      (err) => { if (err.name !== 'AbortError') setError(err); });
    return () => ctl.abort();
  }, [reload]);

  return html`<h1>Users</h1>
    ${me && me.role && me.role !== 'admin' && html`<p class="muted">Only admins manage users; you are ${me.role}.</p>`}
    <${ErrorBox} error=${error} />
    ${!users && !error && html`<${Spinner} />`}
    ${users && html`<${UserTable} users=${users} me=${me} changed=${() => setReload((n) => n + 1)} />`}
    <${AddUser} added=${() => setReload((n) => n + 1)} />`;
}

function UserTable({ users, me, changed }) {
  const [confirm, setConfirm] = useState('');
  const [error, setError] = useState(null);
  const remove = async (email) => {
    setError(null);
    try {
      await api(`/api/users/${encodeURIComponent(email)}`, { method: 'DELETE' });
      setConfirm('');
      changed();
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="card" aria-labelledby="users-title">
    <h2 id="users-title">${users.length} ${users.length === 1 ? 'account' : 'accounts'}</h2>
    <${ErrorBox} error=${error} />
    <div class="table-wrap"><table data-testid="users">
      <thead><tr><th>Email</th><th>Role</th><th>Created</th><th><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${users.map((u) => html`<tr>
        <td>${u.email}${me && me.email === u.email ? html` <span class="badge">you</span>` : ''}</td>
        <td>${u.role}</td>
        <td>${fmtTime(u.created)}</td>
        <td class="right nowrap">${confirm === u.email
          ? html`<button class="btn danger" type="button" onClick=${() => remove(u.email)}>Remove ${u.email}</button>
            <button class="btn" type="button" onClick=${() => setConfirm('')}>Cancel</button>`
          : html`<button class="btn" type="button" aria-label=${`Remove ${u.email}`} onClick=${() => setConfirm(u.email)}>Remove</button>`}
        </td></tr>`)}</tbody>
    </table></div>
  </section>`;
}

function AddUser({ added }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState('viewer');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [done, setDone] = useState('');
  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    setDone('');
    try {
      const u = await api('/api/users', { method: 'POST', body: { email: email.trim(), password, role } });
      setDone(`Added ${(u && u.email) || email} as ${role}.`);
      setEmail('');
      setPassword('');
      added();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="card" onSubmit=${submit} aria-labelledby="add-title">
    <h2 id="add-title">Add a user</h2>
    <div class="row">
      <div><label for="new-email">Email</label>
        <input id="new-email" type="email" required autocomplete="off" value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} /></div>
      <div><label for="new-password">Password</label>
        <input id="new-password" type="password" required autocomplete="new-password" value=${password}
          onInput=${(e) => setPassword(e.currentTarget.value)} /></div>
      <div><label for="new-role">Role</label>
        <select id="new-role" value=${role} onChange=${(e) => setRole(e.currentTarget.value)}>
          ${roles.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
        </select></div>
      <button class="btn primary" type="submit" disabled=${busy}>Add user</button>
    </div>
    <${ErrorBox} error=${error} />
    ${done && html`<p role="status">${done}</p>`}
  </form>`;
}
