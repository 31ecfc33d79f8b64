// Helpers the placement pages share: a rule in words, and a placement's
// daily figures (impressions, clicks, conversions) as chart series.
import { api } from '../lib.js';

/** ruleText says in words when a rule holds. */
export function ruleText(r) {
  if (r.segment) return `in segment ${r.segment}`;
  const op = { eq: '=', neq: '≠', gt: '>', gte: '≥', lt: '<', lte: '≤', in: 'in', contains: 'contains', exists: 'is set' }[r.op || (r.computed ? 'gte' : 'eq')] || r.op;
  const field = r.trait ? `trait ${r.trait}` : r.computed;
  if (r.op === 'exists') return `${field} ${op}`;
  const v = Array.isArray(r.value) ? r.value.join(', ') : String(r.value);
  return `${field} ${op} ${v}`;
}

/** loadStats fetches a placement's last days and shapes them for Chart. */
export async function loadStats(id, days = 30, signal) {
  const r = await api(`/api/placements/${encodeURIComponent(id)}/stats?days=${days}`, { signal });
  const x = r.days.map((d) => Date.parse(d.day + 'T00:00:00Z') / 1000);
  const pick = (k) => r.days.map((d) => d[k]);
  const sum = (k) => r.days.reduce((a, d) => a + d[k], 0);
  return {
    x,
    series: [{ label: 'Impressions', values: pick('impressions') }, { label: 'Clicks', values: pick('clicks') }, { label: 'Conversions', values: pick('conversions') }],
    totals: { impressions: sum('impressions'), clicks: sum('clicks'), conversions: sum('conversions'), revenue: sum('revenue') },
  };
}

/** ctr is clicks per impression as a percentage, or a dash. */
export function ctr(t) {
  return t.impressions > 0 ? `${(100 * t.clicks / t.impressions).toFixed(1)}\u00a0%` : '–';
}
