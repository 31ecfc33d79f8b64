// Overview: what the node is doing now (events per second, profiles,
// processor lag, rejected messages, segment entries) and over the last
// hour, day or week, from GET /api/stats. It refreshes every 10 s, and not
// while the tab is hidden.
import { html, api, navigate, ErrorBox, Spinner, Chart, fmtNum, fmtTime } from '../lib.js';
import { usePoll } from '../components/live-common.js';

const ranges = [['hour', 'Last hour'], ['day', 'Last day'], ['week', 'Last week']];
const refreshMs = 10000;

// perHour turns counts per point into a rate per hour.
const perHour = (values, step) => values.map((v) => (v === null ? null : v * 3600 / step));

function Stat({ id, label, value, unit, detail, href }) {
  const body = html`<div class="stat" data-testid=${'stat-' + id} data-value=${value ?? ''}>${fmtNum(value)}${unit && html`<span class="muted small"> ${unit}</span>`}</div>`;
  return html`<section class="card" aria-labelledby=${'stat-label-' + id}>
    <h2 id=${'stat-label-' + id} class="small muted">${label}</h2>
    ${href ? html`<a href=${href} class="stat-link">${body}</a>` : body}
    ${detail && html`<p class="muted small">${detail}</p>`}
  </section>`;
}

// lone says whether a series has a value with no value beside it (the first
// sample after a start, or one between two gaps): a line cannot show it, so
// such a chart draws its points.
const lone = (series) => series.some(({ values: v }) => (v || []).some((x, i) => x != null && v[i - 1] == null && v[i + 1] == null));

// StatChart is a Chart that shows its lone values as dots.
function StatChart(props) {
  return html`<${Chart} ...${props} points=${lone(props.series) || undefined} />`;
}

export default function Page({ query }) {
  const range = ranges.some(([r]) => r === query.range) ? query.range : 'hour';
  const { data, error, loading, updated, paused } = usePoll(
    (signal) => api(`/api/stats?range=${range}`, { signal }), refreshMs, [range]);

  const cur = data && data.current;
  const s = data && data.series;
  const lagSeconds = cur ? Math.round(cur.lag_seconds * 1000) / 1000 : null;
  return html`<style>
    .ov-head { display: flex; justify-content: space-between; align-items: baseline; flex-wrap: wrap; gap: .5rem; }
    .ov-charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap: var(--gap); }
    .ov-charts .card { margin: 0; }
    .stat-link { text-decoration: none; color: inherit; }
    .ov-range { display: flex; gap: .3rem; flex-wrap: wrap; }
  </style>
  <div class="ov-head">
    <h1>Overview</h1>
    <p class="muted small" role="status" aria-live="polite">
      ${paused ? 'Paused while this tab is hidden' : updated ? `Updated ${fmtTime(updated.getTime())} · every 10 s` : ''}
    </p>
  </div>
  <${ErrorBox} error=${error} />
  ${loading && !data ? html`<${Spinner} label="Loading figures…" />` : null}
  ${cur && html`<div class="grid">
    <${Stat} id="events" label="Events per second" value=${Math.round(cur.events_per_second * 10) / 10}
      detail=${`${fmtNum(Math.round(cur.applied_per_second * 10) / 10)}/s applied to profiles`} href="/events" />
    <${Stat} id="profiles" label="Profiles" value=${cur.profiles} href="/profiles" />
    <${Stat} id="lag" label="Processor lag" value=${cur.lag_events} unit="events"
      detail=${`oldest waiting ${fmtNum(lagSeconds)} s`} />
    <${Stat} id="rejected" label="Rejected in the last hour" value=${cur.rejected_last_hour}
      detail=${`${fmtNum(cur.rejected_total)} since the server started`} href="/events#rejected" />
    <${Stat} id="entries" label="Segment entries in the last hour" value=${cur.segment_entries_last_hour}
      detail=${`${fmtNum(cur.segment_exits_last_hour)} exits`} href="/segments" />
  </div>`}
  <div class="ov-range" role="group" aria-label="Chart range">
    ${ranges.map(([r, label]) => html`<button type="button" class=${'btn' + (r === range ? ' primary' : '')}
      aria-pressed=${r === range} onClick=${() => navigate(r === 'hour' ? '/' : `/?range=${r}`)}>${label}</button>`)}
  </div>
  ${s && html`<div class="ov-charts" style="margin-top: var(--gap)">
    <section class="card"><${StatChart} title="Events per second" x=${s.t}
      series=${[{ label: 'accepted', values: s.events_per_second }, { label: 'applied', values: s.applied_per_second }]} /></section>
    <section class="card"><${StatChart} title="Segment entries and exits per hour" x=${s.t}
      series=${[{ label: 'entries/h', values: perHour(s.segment_entries, data.step) }, { label: 'exits/h', values: perHour(s.segment_exits, data.step) }]} /></section>
    <section class="card"><${StatChart} title=${`Rejected messages per ${data.step >= 3600 ? 'hour' : data.step >= 300 ? '5 minutes' : '10 seconds'}`} x=${s.t}
      series=${[{ label: 'rejected', values: s.rejected }]} /></section>
    <section class="card"><${StatChart} title="Processor lag (highest)" x=${s.t}
      series=${[{ label: 'events', values: s.lag_events }, { label: 'seconds', values: s.lag_seconds }]} /></section>
  </div>`}
  ${s && html`<p class="muted small">Points of ${data.step >= 3600 ? '1 hour' : data.step >= 300 ? '5 minutes' : '10 seconds'};
    gaps are times the server was not running.</p>`}`;
}
