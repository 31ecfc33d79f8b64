// lib.js is the one module every dashboard page imports (by relative path:
// '../lib.js' from pages/ and components/, never '/assets/lib.js', since one
// module under two URLs is two instances and two Preacts break hooks).
// Its exported names are a contract shared by the page owners; add helpers of
// your own in assets/components/<owner>-*.js instead of here.
import { h, render, Fragment, Component } from './vendor/preact.mjs';
import { useState, useEffect, useRef, useMemo, useCallback, useErrorBoundary } from './vendor/hooks.mjs';
import htm from './vendor/htm.mjs';

export { h, render, Fragment, Component };
export { useState, useEffect, useRef, useMemo, useCallback, useErrorBoundary };

/** html is htm bound to Preact's h: html`<p>${x}</p>`. */
export const html = htm.bind(h);

/** ApiError is a failed API call: status, code and message from the API's
 * {"error":{"code","message"}}, the parsed body, and retryAfter (seconds,
 * from Retry-After) when the server said when to retry. */
export class ApiError extends Error {
  constructor(status, code, message, body, retryAfter) {
    super(message || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || '';
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

/** api fetches a same-origin JSON endpoint and returns its parsed answer
 * (null for 204). Non-GET requests carry the CSRF token. A 401 sends the
 * browser to /login?next=<this page>, and every failure throws ApiError. */
export async function api(path, { method = 'GET', body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const init = { method, headers, signal, credentials: 'same-origin' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = cookie('tailor_csrf');
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', `cannot reach the server (${err.message})`);
  }
  if (res.status === 204) return null;
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      if (res.ok) throw new ApiError(res.status, 'bad_answer', `${path} did not answer JSON`, text);
    }
  }
  if (res.ok) return data;
  // The API answers {"error":"text","code":"…"}; the contract also allows
  // {"error":{"code","message"}}.
  let e = (data && data.error) || {};
  if (typeof e === 'string') e = { message: e, code: data.code };
  const retry = parseInt(res.headers.get('Retry-After') || '', 10);
  const err = new ApiError(res.status, e.code, e.message || text.trim() || res.statusText, data ?? text,
    Number.isFinite(retry) ? retry : undefined);
  if (res.status === 401 && !path.startsWith('/api/auth/login') && location.pathname !== '/login') {
    clearMe();
    navigate('/login?next=' + encodeURIComponent(location.pathname + location.search));
  }
  throw err;
}

// Routing by path. app.js renders the page of location.pathname and listens
// for this event; navigate and intercepted links fire it.
export const NAVIGATE = 'tailor:navigate';

/** navigate shows another page without reloading: pushState + re-render. */
export function navigate(path, { replace = false } = {}) {
  if (path === location.pathname + location.search + location.hash) return;
  history[replace ? 'replaceState' : 'pushState'](null, '', path);
  window.dispatchEvent(new Event(NAVIGATE));
}

// Server paths that are not pages: links to them load normally.
const notPages = /^\/(api|v1|assets|metrics|healthz|readyz)(\/|$)/;

document.addEventListener('click', (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest && ev.target.closest('a[href]');
  if (!a || (a.target && a.target !== '_self') || a.hasAttribute('download')) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || notPages.test(url.pathname)) return;
  ev.preventDefault();
  if (url.pathname === location.pathname && url.search === location.search && url.hash) {
    location.hash = url.hash; // an in-page anchor
    return;
  }
  navigate(url.pathname + url.search + url.hash);
});

/** ErrorBox shows an ApiError or Error in words; nothing when error is null. */
export function ErrorBox({ error }) {
  if (!error) return null;
  let text = error.message || String(error);
  if (error instanceof ApiError) {
    if (error.status === 403 && error.code === 'forbidden') text = `Not allowed: ${error.message}`;
    else if (error.status === 429 && error.retryAfter) text = `${error.message} (try again in ${error.retryAfter} s)`;
  }
  const detail = error instanceof ApiError && error.status ? ` (HTTP ${error.status}${error.code ? ', ' + error.code : ''})` : '';
  return html`<div class="error" role="alert"><strong>Error:</strong> ${text}<span class="muted">${detail}</span></div>`;
}

/** Spinner is a labelled busy indicator. */
export function Spinner({ label = 'Loading…' }) {
  return html`<span class="spinner" role="status"><span class="spinner-dot" aria-hidden="true"></span>${label}</span>`;
}

// uPlot (about 45 KB) is loaded the first time a chart is drawn, not with the app.
let uplotLoad;
function loadUPlot() {
  if (!uplotLoad) {
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = new URL('./vendor/uplot.css', import.meta.url).href;
    document.head.appendChild(link);
    uplotLoad = import('./vendor/uplot.mjs').then((m) => m.default);
  }
  return uplotLoad;
}

const palette = ['#3b5bdb', '#e8590c', '#2f9e44', '#ae3ec9', '#1098ad', '#f08c00', '#c2255c'];

/** Chart draws a uPlot line chart. x: unix seconds[]; series: [{label, values}].
 * New data for the same series redraws in place (no flicker on refresh).
 * points: true draws a dot at every value (a line needs two values side by
 * side, so a lone value, such as a series' first, is otherwise invisible),
 * false never, unset as uPlot sees fit (when the values are far apart). */
export function Chart({ x, series, height = 200, title, points }) {
  const box = useRef(null);
  const plot = useRef(null);
  const data = useRef(null);
  const [error, setError] = useState(null);
  data.current = [x, ...series.map((s) => s.values)];
  const shape = series.map((s) => s.label).join('\u0000') + '\u0000' + height + '\u0000' + points;
  useEffect(() => {
    let gone = false;
    let ro;
    loadUPlot().then((UPlot) => {
      if (gone || !box.current) return;
      const axis = { stroke: 'currentColor', grid: { stroke: 'rgba(128,128,128,.15)' }, ticks: { stroke: 'rgba(128,128,128,.3)' } };
      const opts = {
        width: Math.max(box.current.clientWidth, 200),
        height,
        // One x value is a range of zero width, where uPlot draws nothing:
        // widen it to a minute either side.
        scales: { x: { time: true, range: (u, min, max) => (min === max ? [min - 60, max + 60] : [min, max]) } },
        axes: [axis, { ...axis, size: 56 }],
        series: [{}, ...series.map((s, i) => ({
          label: s.label, stroke: palette[i % palette.length], width: 2,
          fill: series.length === 1 ? palette[0] + '22' : undefined,
          ...(points === undefined ? {} : { points: { show: points, size: 7, fill: palette[i % palette.length] } }),
        }))],
      };
      plot.current = new UPlot(opts, data.current, box.current);
      ro = new ResizeObserver(() => {
        if (plot.current && box.current) plot.current.setSize({ width: Math.max(box.current.clientWidth, 200), height });
      });
      ro.observe(box.current);
    }).catch((err) => setError(err));
    return () => {
      gone = true;
      if (ro) ro.disconnect();
      if (plot.current) plot.current.destroy();
      plot.current = null;
    };
  }, [shape]);
  useEffect(() => {
    if (plot.current) plot.current.setData(data.current);
  }, [x, series]);
  const label = title || series.map((s) => s.label).join(', ');
  return html`<figure class="chart">
    ${title && html`<figcaption>${title}</figcaption>`}
    <${ErrorBox} error=${error} />
    <div ref=${box} role="img" aria-label=${`Chart: ${label}, ${x.length} points`} style=${`min-height:${height}px`}></div>
  </figure>`;
}

/** Sparkline is a small inline SVG line of values (no uPlot). */
export function Sparkline({ values, width = 120, height = 24 }) {
  const vs = (values || []).filter((v) => Number.isFinite(v));
  if (vs.length === 0) return html`<svg class="sparkline" width=${width} height=${height} role="img" aria-label="no data"></svg>`;
  const min = Math.min(...vs), max = Math.max(...vs);
  const span = max - min || 1;
  const step = vs.length > 1 ? (width - 2) / (vs.length - 1) : 0;
  const pts = vs.map((v, i) => `${(1 + i * step).toFixed(1)},${(height - 2 - ((v - min) / span) * (height - 4)).toFixed(1)}`).join(' ');
  return html`<svg class="sparkline" width=${width} height=${height} viewBox=${`0 0 ${width} ${height}`} role="img"
      aria-label=${`from ${fmtNum(vs[0])} to ${fmtNum(vs[vs.length - 1])}, min ${fmtNum(min)}, max ${fmtNum(max)}`}>
    <polyline points=${pts} fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" />
  </svg>`;
}

const numFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });

/** fmtNum formats a number for people (1,234.5); '–' for none. */
export function fmtNum(n) {
  if (n === null || n === undefined || n === '' || Number.isNaN(Number(n))) return '–';
  return numFmt.format(Number(n));
}

function toDate(v) {
  if (v === null || v === undefined || v === '') return null;
  // Numbers are unix seconds; larger ones are taken as milliseconds.
  const d = typeof v === 'number' ? new Date(v > 1e11 ? v : v * 1000) : new Date(v);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** fmtTime formats unix seconds or an ISO time as local date and time. */
export function fmtTime(v) {
  const d = toDate(v);
  if (!d) return '–';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** fmtAgo formats unix seconds or an ISO time relative to now: "5 min ago". */
export function fmtAgo(v) {
  const d = toDate(v);
  if (!d) return '–';
  let s = Math.round((Date.now() - d.getTime()) / 1000);
  const future = s < 0;
  s = Math.abs(s);
  let t;
  if (s < 60) t = `${s} s`;
  else if (s < 3600) t = `${Math.floor(s / 60)} min`;
  else if (s < 86400) t = `${Math.floor(s / 3600)} h`;
  else if (s < 86400 * 365) t = `${Math.floor(s / 86400)} d`;
  else t = `${(s / (86400 * 365)).toFixed(1)} y`;
  return future ? `in ${t}` : `${t} ago`;
}

// The current user, fetched once and shared by every useMe.
let me = null;
let meLoad = null;
const meSubs = new Set();
function publishMe(u) {
  me = u;
  meSubs.forEach((f) => f(u));
}

/** clearMe forgets the current user (after logout or a 401). Not part of the
 * page contract: app.js and login.js use it. */
export function clearMe() {
  meLoad = null;
  publishMe(null);
}

/** setMe records the user a login answered. Not part of the page contract. */
export function setMe(user) {
  meLoad = Promise.resolve(user);
  publishMe(user);
}

/** useMe returns the current user {email, role} from GET /api/auth/me,
 * null until it is known (or when nobody is logged in). */
export function useMe() {
  const [u, setU] = useState(me);
  useEffect(() => {
    meSubs.add(setU);
    if (!meLoad) {
      meLoad = api('/api/auth/me').then((x) => { publishMe(x && x.user ? x.user : x); return me; },
        () => { meLoad = null; return null; });
    }
    setU(me);
    return () => meSubs.delete(setU);
  }, []);
  return u;
}

/** useDebounced returns value once it has not changed for ms milliseconds. */
export function useDebounced(value, ms) {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}
