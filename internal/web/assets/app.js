// app.js is the dashboard's shell: it maps the page path to a page module
// (loaded on demand, so a missing or broken page shows an error instead of
// breaking the app), and draws the navigation, the current user and logout.
// The server answers index.html for the same paths (web.Pages in web.go).
import {
  html, render, useState, useEffect, useErrorBoundary, api, navigate, NAVIGATE,
  ErrorBox, Spinner, useMe, clearMe,
} from './lib.js';

// routes: pattern → page module under ./pages/, title; the first match wins.
const routes = [
  ['/', 'overview', 'Overview'],
  ['/login', 'login', 'Log in'],
  ['/profiles', 'profiles', 'Profiles'],
  ['/profiles/:id', 'profile', 'Profile'],
  ['/segments', 'segments', 'Segments'],
  ['/segments/new', 'segment-edit', 'New segment'],
  ['/segments/:id', 'segment', 'Segment'],
  ['/segments/:id/edit', 'segment-edit', 'Edit segment'],
  ['/segments/:id/why/:identifier', 'why', 'Why in segment'],
  ['/events', 'events', 'Live events'],
  ['/sources', 'sources', 'Sources'],
  ['/catalog', 'catalog', 'Catalog'],
  ['/catalog/:id', 'catalog', 'Product'],
  ['/users', 'users', 'Users'],
  ['/templates', 'templates', 'Templates'],
  ['/templates/new', 'template-edit', 'New template'],
  ['/templates/:id', 'template-edit', 'Template'],
  ['/journeys', 'journeys', 'Journeys'],
  ['/journeys/:id', 'journey', 'Journey'],
  ['/experiments', 'experiments', 'Experiments'],
  ['/experiments/:id', 'experiment', 'Experiment'],
  ['/placements', 'placements', 'Placements'],
  ['/placements/:id', 'placement', 'Placement'],
  ['/predictions', 'predictions', 'Predictions'],
  ['/recommendations', 'recommendations', 'Recommendations'],
].map(([pattern, page, title]) => ({ parts: pattern.split('/').filter(Boolean), page, title }));

// nav is the left menu; section says which routes light up each entry.
const nav = [
  { href: '/', label: 'Overview', section: '' },
  { href: '/profiles', label: 'Profiles', section: 'profiles' },
  { href: '/segments', label: 'Segments', section: 'segments' },
  { href: '/journeys', label: 'Journeys', section: 'journeys' },
  { href: '/experiments', label: 'Experiments', section: 'experiments' },
  { href: '/predictions', label: 'Predictions', section: 'predictions' },
  { href: '/events', label: 'Live events', section: 'events' },
  { href: '/sources', label: 'Sources', section: 'sources' },
  { href: '/catalog', label: 'Catalog', section: 'catalog' },
  { href: '/recommendations', label: 'Recommendations', section: 'recommendations' },
  { href: '/templates', label: 'Templates', section: 'templates' },
  { href: '/placements', label: 'Placements', section: 'placements' },
  { href: '/users', label: 'Users', section: 'users', admin: true },
];

/** match returns the route and its decoded :params for a path, or null. */
export function match(pathname) {
  const parts = pathname.split('/').filter(Boolean);
  for (const r of routes) {
    if (r.parts.length !== parts.length) continue;
    const params = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const p = r.parts[i];
      if (p.startsWith(':')) {
        try {
          params[p.slice(1)] = decodeURIComponent(parts[i]);
        } catch {
          ok = false;
        }
      } else ok = p === parts[i];
    }
    if (ok) return { route: r, params };
  }
  return null;
}

// Loaded page modules, by name, so that going back to a page is instant.
const modules = new Map();

function PageHost({ route, params, query }) {
  const [mod, setMod] = useState(() => modules.get(route.page) || null);
  const [error, setError] = useState(null);
  const [renderError, resetError] = useErrorBoundary();
  useEffect(() => {
    if (modules.has(route.page)) {
      setMod(modules.get(route.page));
      return;
    }
    let gone = false;
    setMod(null);
    setError(null);
    import(`./pages/${route.page}.js`).then(
      (m) => { modules.set(route.page, m); if (!gone) setMod(m); },
      (err) => { if (!gone) setError(err); });
    return () => { gone = true; };
  }, [route.page]);
  if (error) return html`<div class="error" role="alert">This page failed to load: ${error.message || String(error)}</div>`;
  if (renderError) {
    return html`<div><${ErrorBox} error=${{ message: `This page failed: ${renderError.message || renderError}` }} />
      <button class="btn" onClick=${resetError}>Try again</button></div>`;
  }
  if (!mod) return html`<${Spinner} label="Loading page…" />`;
  const Page = mod.default;
  return html`<${Page} params=${params} query=${query} />`;
}

function UserBox() {
  const me = useMe();
  const [error, setError] = useState(null);
  const logout = async () => {
    setError(null);
    try {
      await api('/api/auth/logout', { method: 'POST' });
    } catch (err) {
      // A session that has already ended is as good as a logout.
      if (err.status !== 401) { setError(err); return; }
    }
    clearMe();
    navigate('/login');
  };
  return html`<div class="userbox">
    ${me ? html`<span class="me" title="Logged in"><span data-testid="me-email">${me.email || 'admin token'}</span>
      <span class="badge">${me.role}</span></span>` : html`<span class="muted">…</span>`}
    <button class="btn" type="button" onClick=${logout}>Log out</button>
    <${ErrorBox} error=${error} />
  </div>`;
}

function Layout({ section, path, children }) {
  const me = useMe();
  const [open, setOpen] = useState(false);
  useEffect(() => setOpen(false), [path]);
  return html`<div class="layout">
    <a class="skip" href="#main">Skip to content</a>
    <header class="topbar">
      <a class="brand" href="/">Tailor</a>
      <button class="btn menu-toggle" type="button" aria-expanded=${open} aria-controls="nav"
        onClick=${() => setOpen(!open)}>Menu</button>
    </header>
    <div class="nav-col">
      <nav id="nav" class=${'nav' + (open ? ' open' : '')} aria-label="Main">
        <a class="brand" href="/">Tailor</a>
        <ul>
          ${nav.filter((n) => !n.admin || (me && me.role === 'admin')).map((n) => html`<li>
            <a href=${n.href} aria-current=${n.section === section ? 'page' : undefined}>${n.label}</a></li>`)}
        </ul>
        <${UserBox} />
      </nav>
    </div>
    <main id="main" tabindex="-1">${children}</main>
  </div>`;
}

function App() {
  const [, setLoc] = useState(() => location.pathname + location.search);
  useEffect(() => {
    const on = () => setLoc(location.pathname + location.search);
    window.addEventListener(NAVIGATE, on);
    window.addEventListener('popstate', on);
    return () => {
      window.removeEventListener(NAVIGATE, on);
      window.removeEventListener('popstate', on);
    };
  }, []);
  const pathname = location.pathname;
  const m = match(pathname);
  const query = Object.fromEntries(new URLSearchParams(location.search));
  useEffect(() => {
    document.title = (m ? m.route.title : 'Not found') + ' · Tailor';
  }, [pathname]);
  // Move focus to the new page for keyboard and screen-reader users (not on
  // the first load, and not when only the query changed).
  const [first, setFirst] = useState(true);
  useEffect(() => {
    if (first) { setFirst(false); return; }
    const main = document.getElementById('main');
    if (main) main.focus({ preventScroll: true });
    window.scrollTo(0, 0);
  }, [pathname]);
  if (m && m.route.page === 'login') {
    return html`<div class="login-wrap"><${PageHost} key=${pathname} route=${m.route} params=${m.params} query=${query} /></div>`;
  }
  const section = pathname.split('/')[1] || '';
  return html`<${Layout} section=${section} path=${pathname}>
    ${m ? html`<${PageHost} key=${pathname} route=${m.route} params=${m.params} query=${query} />`
      : html`<h1>Page not found</h1><p>There is no page at <code>${pathname}</code>. <a href="/">Go to the overview</a>.</p>`}
  </${Layout}>`;
}

render(html`<${App} />`, document.getElementById('app'));
