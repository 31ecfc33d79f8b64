// Catalog: browse products by category (GET /api/catalog/categories) and
// search them (GET /api/catalog/products?q=&category=), with price and
// stock; /catalog/:id shows one product with its attributes and the
// categories bought with it ("complements"), a few products of each.
import { html, useState, useEffect, useMemo, api, navigate, ErrorBox, Spinner, fmtNum, useDebounced } from '../lib.js';

const pageSize = 50;

const money = (p) => {
  try {
    return new Intl.NumberFormat(undefined, { style: 'currency', currency: p.currency || 'USD' }).format(p.price);
  } catch {
    return `${fmtNum(p.price)} ${p.currency || ''}`;
  }
};

function Stock({ p }) {
  if (p.stock === undefined || p.stock === null) return html`<span class="muted small">not tracked</span>`;
  if (p.stock <= 0) return html`<span class="badge cat-out">out of stock</span>`;
  if (p.stock < 5) return html`<span class="badge cat-low">${fmtNum(p.stock)} left</span>`;
  return html`<span>${fmtNum(p.stock)}</span>`;
}

const catHref = (path) => '/catalog' + (path ? `?category=${encodeURIComponent(path)}` : '');

// tree builds nested nodes {name, path, products, stock, children} from the
// category paths and their counts; each level adds up those below it.
function tree(categories) {
  const root = { name: '', path: '', products: 0, stock: 0, children: new Map() };
  for (const c of categories) {
    let node = root;
    root.products += c.products;
    root.stock += c.stock;
    const parts = c.path ? c.path.split(' > ') : ['(no category)'];
    parts.forEach((name, i) => {
      if (!node.children.has(name)) {
        node.children.set(name, { name, path: c.path ? parts.slice(0, i + 1).join(' > ') : '', products: 0, stock: 0, children: new Map() });
      }
      node = node.children.get(name);
      node.products += c.products;
      node.stock += c.stock;
    });
  }
  return root;
}

function Tree({ node, current, depth = 0 }) {
  const kids = [...node.children.values()];
  if (kids.length === 0) return null;
  return html`<ul class=${depth ? 'cat-sub' : 'cat-tree'}>${kids.map((k) => {
    const on = k.path === current;
    const open = current === k.path || (current && current.startsWith(k.path + ' > '));
    return html`<li key=${k.path + k.name}>
      <a href=${catHref(k.path)} aria-current=${on ? 'page' : undefined}>${k.name}</a>
      <span class="muted small"> ${fmtNum(k.products)}</span>
      ${(open || depth === 0 && k.children.size > 0 && !current) && depth < 4 ? html`<${Tree} node=${k} current=${current} depth=${depth + 1} />` : null}
    </li>`;
  })}</ul>`;
}

function ProductTable({ products, caption }) {
  return html`<div class="table-wrap"><table data-testid="products">
    ${caption && html`<caption class="visually-hidden">${caption}</caption>`}
    <thead><tr><th scope="col">Product</th><th scope="col">Category</th><th scope="col" class="right">Price</th><th scope="col">Stock</th></tr></thead>
    <tbody>${products.map((p) => html`<tr key=${p.id}>
      <td><a href=${'/catalog/' + encodeURIComponent(p.id)}>${p.name || p.id}</a><div class="muted small mono">${p.id}</div></td>
      <td class="small">${p.category ? html`<a href=${catHref(p.category)}>${p.category}</a>` : '–'}</td>
      <td class="right nowrap">${money(p)}</td><td><${Stock} p=${p} /></td></tr>`)}</tbody>
  </table></div>`;
}

function Browse({ query }) {
  const category = query.category || '';
  const [q, setQ] = useState(query.q || '');
  const dq = useDebounced(q.trim(), 250);
  const [cats, setCats] = useState({ list: null, error: null });
  const [res, setRes] = useState({ products: null, next: '', error: null, loading: true });

  useEffect(() => {
    api('/api/catalog/categories').then((r) => setCats({ list: r.categories || [], error: null }), (error) => setCats({ list: null, error }));
  }, []);
  // The search goes into the address, so that it can be linked to and Back
  // returns to it.
  useEffect(() => {
    if (dq === (query.q || '')) return;
    const p = new URLSearchParams();
    if (category) p.set('category', category);
    if (dq) p.set('q', dq);
    navigate('/catalog' + (p.toString() ? `?${p}` : ''), { replace: true });
  }, [dq]);
  const fetchPage = (cursor, signal) => {
    const p = new URLSearchParams({ limit: pageSize });
    if (category) p.set('category', category);
    if (query.q) p.set('q', query.q);
    if (cursor) p.set('cursor', cursor);
    return api(`/api/catalog/products?${p}`, { signal });
  };
  useEffect(() => {
    const ctl = new AbortController();
    setRes({ products: null, next: '', error: null, loading: true });
    fetchPage('', ctl.signal).then((r) => setRes({ products: r.products || [], next: r.next_cursor || '', error: null, loading: false }),
      (error) => { if (error.name !== 'AbortError') setRes({ products: null, next: '', error, loading: false }); });
    return () => ctl.abort();
  }, [category, query.q]);
  const more = () => {
    setRes((s) => ({ ...s, loading: true }));
    fetchPage(res.next).then((r) => setRes((s) => ({ products: [...s.products, ...(r.products || [])], next: r.next_cursor || '', error: null, loading: false })),
      (error) => setRes((s) => ({ ...s, error, loading: false })));
  };
  const root = useMemo(() => (cats.list ? tree(cats.list) : null), [cats.list]);
  const crumbs = category ? category.split(' > ') : [];
  // Without a search, the tree knows how many products the list has.
  let total = null;
  if (root && !query.q) {
    let node = root;
    for (const c of crumbs) node = node && [...node.children.values()].find((k) => k.name.toLowerCase() === c.toLowerCase());
    total = node ? node.products : null;
  }

  return html`<h1>Catalog</h1>
  <div class="cat-layout">
    <nav class="card" aria-label="Categories">
      <h2>Categories</h2>
      <${ErrorBox} error=${cats.error} />
      ${!root && !cats.error ? html`<${Spinner} />` : null}
      ${root && html`<p><a href="/catalog" aria-current=${!category ? 'page' : undefined}>All products</a>
        <span class="muted small"> ${fmtNum(root.products)}</span></p><${Tree} node=${root} current=${category} />`}
    </nav>
    <section class="card" aria-labelledby="cat-h">
      <form role="search" onSubmit=${(e) => e.preventDefault()}>
        <label for="cat-q">Search products by name, id or brand</label>
        <input id="cat-q" type="search" value=${q} placeholder="jacket" autocomplete="off" onInput=${(e) => setQ(e.currentTarget.value)} />
      </form>
      <h2 id="cat-h" style="margin-top: var(--gap)">
        ${crumbs.length ? crumbs.map((c, i) => html`${i > 0 ? ' › ' : ''}<a href=${catHref(crumbs.slice(0, i + 1).join(' > '))}>${c}</a>`) : 'All products'}
        ${query.q && html` <span class="muted">matching “${query.q}”</span>`}
      </h2>
      <${ErrorBox} error=${res.error} />
      ${res.products && res.products.length === 0 && html`<p>No products${query.q ? ` match “${query.q}”` : ''}${category ? ' in this category' : ''}.</p>`}
      ${res.products && res.products.length > 0 && html`<p class="muted small" data-testid="product-count">${total !== null && total > res.products.length
          ? `${fmtNum(res.products.length)} of ${fmtNum(total)} products` : `${fmtNum(res.products.length)}${res.next ? '+' : ''} products`}</p>
        <${ProductTable} products=${res.products} caption="Products" />`}
      ${res.loading ? html`<${Spinner} />` : res.next && html`<button class="btn" type="button" onClick=${more}>Load more</button>`}
    </section>
  </div>`;
}

function Complement({ path }) {
  const [r, setR] = useState({ products: null, error: null });
  useEffect(() => {
    api(`/api/catalog/products?${new URLSearchParams({ category: path, limit: 4 })}`)
      .then((x) => setR({ products: x.products || [], error: null }), (error) => setR({ products: null, error }));
  }, [path]);
  return html`<li><a href=${catHref(path)}>${path}</a>
    <${ErrorBox} error=${r.error} />
    ${r.products && r.products.length > 0 && html`<ul class="small">${r.products.map((p) => html`<li key=${p.id}>
      <a href=${'/catalog/' + encodeURIComponent(p.id)}>${p.name || p.id}</a> <span class="muted">${money(p)}</span></li>`)}</ul>`}
  </li>`;
}

function Product({ id }) {
  const [st, setSt] = useState({ p: null, error: null });
  useEffect(() => {
    setSt({ p: null, error: null });
    api(`/api/catalog/products/${encodeURIComponent(id)}`).then((p) => setSt({ p, error: null }), (error) => setSt({ p: null, error }));
  }, [id]);
  const p = st.p;
  if (st.error) return html`<h1>Product</h1><${ErrorBox} error=${st.error} /><p><a href="/catalog">Back to the catalog</a></p>`;
  if (!p) return html`<${Spinner} label="Loading product…" />`;
  const attrs = Object.entries(p.attributes || {}).filter(([k]) => k !== 'complements');
  const complements = Array.isArray(p.attributes && p.attributes.complements) ? p.attributes.complements : [];
  const crumbs = p.category ? p.category.split(/\s*>\s*/) : [];
  return html`<p class="small"><a href="/catalog">Catalog</a>${crumbs.map((c, i) => html` › <a href=${catHref(crumbs.slice(0, i + 1).join(' > '))}>${c}</a>`)}</p>
  <h1>${p.name || p.id}</h1>
  <div class="grid">
    <section class="card"><h2 class="small muted">Price</h2><div class="stat" data-testid="price">${money(p)}</div></section>
    <section class="card"><h2 class="small muted">Stock</h2><div class="stat" data-testid="stock"><${Stock} p=${p} /></div></section>
  </div>
  <section class="card" aria-labelledby="attr-h"><h2 id="attr-h">Details</h2>
    <dl class="kv">
      <dt>Id</dt><dd class="mono">${p.id}</dd>
      <dt>Category</dt><dd>${p.category || '–'}</dd>
      ${p.url && html`<dt>Page</dt><dd><a href=${p.url} rel="noopener noreferrer" target="_blank">${p.url}</a></dd>`}
      ${attrs.map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'object' ? JSON.stringify(v) : String(v)}</dd>`)}
    </dl>
  </section>
  <section class="card" aria-labelledby="comp-h"><h2 id="comp-h">Often bought with it</h2>
    ${complements.length === 0 ? html`<p class="muted">No complementary categories recorded for this product.</p>`
      : html`<ul>${complements.map((c) => html`<${Complement} key=${c} path=${c} />`)}</ul>`}
  </section>`;
}

export default function Page({ params, query }) {
  return html`<style>
    .cat-layout { display: grid; grid-template-columns: minmax(200px, 260px) 1fr; gap: var(--gap); align-items: start; }
    .cat-layout > .card { margin: 0; }
    .cat-tree, .cat-sub { list-style: none; margin: 0; padding: 0; }
    .cat-sub { padding-left: 1rem; }
    .cat-tree li { margin: .15rem 0; }
    .cat-tree a[aria-current="page"] { font-weight: 700; }
    #cat-q { width: 100%; }
    .cat-out, .cat-low { white-space: nowrap; }
    .cat-out { background: var(--danger); color: #fff; }
    .cat-low { background: var(--warn); color: #000; }
    @media (max-width: 700px) { .cat-layout { grid-template-columns: 1fr; } }
  </style>
  ${params.id ? html`<${Product} id=${params.id} />` : html`<${Browse} query=${query} />`}`;
}
