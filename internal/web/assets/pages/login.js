// The login page: POST /api/auth/login, then back to the page that sent the
// browser here (?next=, same-origin paths only).
import { html, useState, useEffect, useRef, api, navigate, ErrorBox, setMe } from '../lib.js';

// safeNext keeps only a local page path, so that a crafted link cannot send
// the browser to another site after logging in.
function safeNext(next) {
  if (typeof next !== 'string' || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next.startsWith('/login')) return '/';
  return next;
}

export default function Page({ query }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const emailRef = useRef(null);
  useEffect(() => { if (emailRef.current) emailRef.current.focus(); }, []);

  const submit = async (ev) => {
    ev.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await api('/api/auth/login', { method: 'POST', body: { email: email.trim(), password } });
      setMe(res && res.user ? res.user : null);
      navigate(safeNext(query && query.next), { replace: true });
    } catch (err) {
      if (err.code === 'invalid_credentials') err.message = 'Wrong email or password.';
      else if (err.code === 'rate_limited') err.message = 'Too many attempts.';
      setError(err);
      setBusy(false);
    }
  };

  return html`<section class="card login" aria-labelledby="login-title">
    <h1 id="login-title">Tailor</h1>
    <p class="muted">Log in to the dashboard.</p>
    <form onSubmit=${submit}>
      <label for="login-email">Email</label>
      <input id="login-email" name="email" type="email" autocomplete="username" required ref=${emailRef}
        value=${email} onInput=${(e) => setEmail(e.currentTarget.value)} />
      <label for="login-password">Password</label>
      <input id="login-password" name="password" type="password" autocomplete="current-password" required
        value=${password} onInput=${(e) => setPassword(e.currentTarget.value)} />
      <${ErrorBox} error=${error} />
      <button class="btn primary" type="submit" disabled=${busy}>${busy ? 'Logging in…' : 'Log in'}</button>
    </form>
    <p class="muted small">The first start of <code>tailor serve</code> prints the admin's email and password.</p>
  </section>`;
}
