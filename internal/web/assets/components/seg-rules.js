// Rule-tree helpers shared by the segment pages: what each operator takes,
// how a node reads in words, and immutable edits of a tree by path.

export const OPS = {
  eq: '=', neq: '≠', gt: '>', gte: '≥', lt: '<', lte: '≤', between: 'between',
  in: 'is one of', not_in: 'is none of', contains: 'contains', starts_with: 'starts with',
  exists: 'exists', not_exists: 'does not exist', before: 'before', after: 'after',
  more_than_ago: 'more than … ago', less_than_ago: 'less than … ago',
  within_next: 'within the next', anniversary_within_next: 'anniversary within the next',
};

const TIME_OPS = ['before', 'after', 'more_than_ago', 'less_than_ago', 'within_next', 'anniversary_within_next', 'exists', 'not_exists'];
const NUMBER_OPS = ['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'between', 'in', 'not_in', 'exists', 'not_exists'];
const STRING_OPS = ['eq', 'neq', 'in', 'not_in', 'contains', 'starts_with', 'exists', 'not_exists'];
const ALL_OPS = Object.keys(OPS);
// Properties take no relative date operators (the engine refuses them).
const FILTER_OPS = ALL_OPS.filter((o) => !RELATIVE(o));

function RELATIVE(op) {
  return ['more_than_ago', 'less_than_ago', 'within_next', 'anniversary_within_next'].includes(op);
}

// opsFor lists the operators a field of type ('number', 'string', 'time',
// or undefined for untyped traits) takes; filter: an event property.
export function opsFor(type, filter = false) {
  if (filter) return FILTER_OPS;
  return { number: NUMBER_OPS, string: STRING_OPS, time: TIME_OPS }[type] || ALL_OPS;
}

// valueKind is the input an operator's value needs: none, number, pair
// (between), list (in/not_in), text, date, duration or scalar (eq/neq:
// text, number or yes/no as chosen).
export function valueKind(op, type) {
  if (op === 'exists' || op === 'not_exists' || !op) return 'none';
  if (op === 'between') return 'pair';
  if (op === 'in' || op === 'not_in') return 'list';
  if (op === 'before' || op === 'after') return 'date';
  if (RELATIVE(op)) return 'duration';
  if (['gt', 'gte', 'lt', 'lte'].includes(op)) return 'number';
  if (op === 'contains' || op === 'starts_with') return 'text';
  if (type === 'number') return 'number';
  if (type === 'string') return 'text';
  return 'scalar';
}

// defaultValue is a starting value for op, so that a changed operator
// leaves a node the engine accepts once filled in.
export function defaultValue(op, type, old) {
  switch (valueKind(op, type)) {
    case 'none': return undefined;
    case 'pair': return Array.isArray(old) && old.length === 2 ? old : [0, 100];
    case 'list': return Array.isArray(old) ? old : (old === undefined || old === '' ? [] : [old]);
    case 'date': return typeof old === 'string' && /^\d{4}-\d\d-\d\d/.test(old) ? old : new Date().toISOString().slice(0, 10);
    case 'duration': return typeof old === 'string' && /^\d+[smhdw]$/.test(old) ? old : '30d';
    case 'number': return typeof old === 'number' ? old : 0;
    case 'text': return typeof old === 'string' ? old : '';
    default: return Array.isArray(old) ? '' : (old ?? '');
  }
}

export const UNITS = [['m', 'minutes'], ['h', 'hours'], ['d', 'days'], ['w', 'weeks']];

export function splitDuration(s) {
  const m = /^(\d+)([smhdw])$/.exec(s || '');
  return m ? [Number(m[1]), m[2]] : [30, 'd'];
}

export const MEASURES = {
  count: 'count', sum: 'sum of', avg: 'average of', min: 'minimum of', max: 'maximum of',
  first: 'first time', last: 'last time',
};

// COUNTS are the ways to compare an event count, as the text form says them.
export const COUNTS = [['gte', 'at least'], ['lte', 'at most'], ['eq', 'exactly'], ['gt', 'more than'], ['lt', 'fewer than']];

export const KINDS = [
  ['trait', 'Trait'], ['computed', 'Computed field or model'], ['event', 'Did an event'],
  ['segment', 'Member of segment'], ['reachable', 'Reachable on a channel'], ['and', 'Group: all of'], ['or', 'Group: any of'],
];

// CHANNELS are the channels a reachability condition names, with labels
// (the vocabulary's list wins when it has one).
export const CHANNELS = [['email', 'email'], ['sms', 'SMS'], ['push', 'app push'], ['webpush', 'web push'],
  ['inapp', 'in-app inbox'], ['webhook', 'webhook'], ['mail', 'post']];

// newNode is a fresh node of kind, filled from the vocabulary so that it
// is valid at once where possible.
export function newNode(kind, vocab, segments) {
  switch (kind) {
    case 'trait': return { trait: vocab?.traits?.[0] || 'email', op: 'exists' };
    case 'computed': return { computed: 'orders', op: 'gte', value: 1 };
    case 'event': return { event: pickEvent(vocab), within: { last: '30d' } };
    case 'segment': return { segment: segments?.[0]?.id || '' };
    case 'reachable': return { reachable: vocab?.channels?.[0] || 'email' };
    case 'and': return { and: [] };
    case 'or': return { or: [] };
  }
  throw new Error(`unknown node kind ${kind}`);
}

function pickEvent(vocab) {
  const names = (vocab?.events || []).map((e) => e.name).filter((n) => !n.startsWith('segment_'));
  return names.find((n) => n === 'Order Completed') || names[0] || 'Order Completed';
}

export function nodeKind(n) {
  if (!n || typeof n !== 'object') return 'invalid';
  for (const k of ['and', 'or', 'not', 'trait', 'computed', 'event', 'segment', 'reachable']) if (n[k] !== undefined) return k;
  return 'invalid';
}

// at returns the node at path (an array of keys) in tree.
export function at(tree, path) {
  return path.reduce((n, k) => (n == null ? n : n[k]), tree);
}

// setAt returns a copy of tree with the value at path replaced (undefined
// deletes the key; in an array it removes the element).
export function setAt(tree, path, value) {
  if (path.length === 0) return value;
  const [k, ...rest] = path;
  const copy = Array.isArray(tree) ? tree.slice() : { ...tree };
  const next = setAt(tree?.[k], rest, value);
  if (next === undefined) {
    if (Array.isArray(copy)) copy.splice(k, 1);
    else delete copy[k];
  } else copy[k] = next;
  return copy;
}

// pointer is the JSON Pointer of path, as the API's error paths are.
export function pointer(path) {
  return path.map((k) => '/' + String(k).replace(/~/g, '~0').replace(/\//g, '~1')).join('');
}

function q(s) {
  return JSON.stringify(s);
}

function fmtValue(v) {
  if (Array.isArray(v)) return '(' + v.map(fmtValue).join(', ') + ')';
  return typeof v === 'string' ? q(v) : String(v);
}

function fmtCmp(name, op, value, cs) {
  if (op === 'exists' || op === 'not_exists') return `${name} ${OPS[op]}`;
  if (op === 'between' && Array.isArray(value)) return `${name} between ${value[0]} and ${value[1]}`;
  return `${name} ${OPS[op] || op} ${fmtValue(value)}${cs ? ' (case-sensitive)' : ''}`;
}

function fmtWindow(w) {
  if (!w) return '';
  if (w.last) {
    const [n, u] = splitDuration(w.last);
    const unit = (UNITS.find(([k]) => k === u) || [u, u])[1];
    return ` in the last ${n} ${unit}`;
  }
  if (w.since) return ` since ${w.since}`;
  if (w.from) return ` between ${w.from} and ${w.to}`;
  return '';
}

// describe says one node (not its children) in words.
export function describe(n) {
  switch (nodeKind(n)) {
    case 'and': return 'all of';
    case 'or': return 'any of';
    case 'not': return 'not';
    case 'trait': return fmtCmp(`trait ${n.trait}`, n.op, n.value, n.case_sensitive);
    case 'computed': return fmtCmp(n.computed, n.op, n.value, false);
    case 'segment': return `member of segment ${q(n.segment)}`;
    case 'reachable': return `reachable on ${n.reachable}`;
    case 'event': {
      let s = `did ${q(n.event)}`;
      if (n.where?.length) s += ' where ' + n.where.map((f) => fmtCmp(f.property, f.op, f.value, f.case_sensitive)).join(' and ');
      const m = n.measure || 'count';
      if (n.op) {
        if (m === 'count') {
          const c = COUNTS.find(([o]) => o === n.op);
          s += c ? ` ${c[1]} ${n.value} times` : ' ' + fmtCmp('count', n.op, n.value);
        } else s += ' ' + fmtCmp(`${MEASURES[m] || m}${n.of ? ' ' + n.of : ''}`, n.op, n.value);
      }
      return s + fmtWindow(n.within);
    }
  }
  return JSON.stringify(n);
}

// nodePointers lists the JSON Pointer of every node of tree, so that an
// error path can be shown at the deepest node it falls in.
export function nodePointers(tree, path = [], out = []) {
  if (!tree || typeof tree !== 'object') return out;
  out.push(pointer(path));
  for (const k of ['and', 'or']) (tree[k] || []).forEach((c, i) => nodePointers(c, [...path, k, i], out));
  if (tree.not) nodePointers(tree.not, [...path, 'not'], out);
  return out;
}

// errorNode is the pointer (relative to the rule) of the node an API
// error's path falls in, or null when the error is not about the rule.
export function errorNode(tree, errPath) {
  if (!errPath || !(errPath === '/rule' || errPath.startsWith('/rule/'))) return null;
  const rel = errPath.slice('/rule'.length);
  let best = '';
  for (const p of nodePointers(tree)) {
    if ((rel === p || rel.startsWith(p + '/')) && p.length > best.length) best = p;
  }
  return best;
}

// parseList reads an in/not_in list typed as "a, b, c": numbers when the
// field is a number, else strings (quotes optional).
export function parseList(s, type) {
  return s.split(',').map((x) => x.trim()).filter((x) => x !== '').map((x) => {
    const u = x.replace(/^"(.*)"$/, '$1');
    if (type === 'number' || (type === undefined && u === x && x !== '' && !isNaN(Number(x)))) return Number(x);
    return u;
  });
}

export function listText(v) {
  return Array.isArray(v) ? v.join(', ') : '';
}

// fixErr gives an API error the admin API's words: it answers
// {"error":"text","code":"…","path":"…"}, and a lib.js that reads only
// {"error":{"message"}} would leave the raw JSON as the message.
export function fixErr(e) {
  const b = e && e.body;
  if (b && typeof b === 'object' && typeof b.error === 'string') {
    e.message = b.error;
    if (!e.code && b.code) e.code = b.code;
  }
  return e;
}
