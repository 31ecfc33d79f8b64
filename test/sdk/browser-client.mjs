// browser-client.mjs opens the e2e shop page (test/sdk/browser/index.html,
// served by test/e2e on its own origin) in a headless Chromium driven by
// playwright-core, runs window.tailorRun() (analytics.js: page, identify,
// track to a Tailor server on another origin) and prints a JSON summary on
// stdout for TestAnalyticsBrowser.
//
// Every request the browser makes is recorded. Requests to any host other than
// 127.0.0.1/localhost (Segment's CDN or API in particular) are aborted and make
// the run fail.
//
// usage: node browser-client.mjs --url PAGE_URL [--chromium /usr/bin/chromium]
//
// Exit status 0 on success, 1 when something went wrong (see "errors").
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { chromium } from 'playwright-core'

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    timeout: { type: 'string', default: '60000' },
  },
})
if (!opts.url) {
  console.error('usage: node browser-client.mjs --url PAGE_URL [--chromium PATH]')
  process.exit(2)
}
const timeout = Number(opts.timeout)

const localHosts = new Set(['127.0.0.1', 'localhost', '[::1]'])
// allowed reports whether the browser may fetch url: only this machine, or
// schemes that never touch the network.
function allowed(url) {
  let u
  try {
    u = new URL(url)
  } catch {
    return false
  }
  if (['data:', 'blob:', 'about:'].includes(u.protocol)) return true
  return ['http:', 'https:', 'ws:', 'wss:'].includes(u.protocol) && localHosts.has(u.hostname)
}

const summary = {
  result: null, // what window.tailorRun() returned
  cookieAnonymousId: null, // the ajs_anonymous_id cookie, if analytics.js set one
  storageAnonymousId: null, // localStorage ajs_anonymous_id
  requests: [], // every request: {method, url, resourceType}
  apiResponses: [], // responses to /v1/ calls: {url, status, allowOrigin}
  forbidden: [], // requests to non-local hosts (aborted)
  failed: [], // local requests that failed (CORS, connection, ...)
  retried: [], // failed requests whose messages analytics.js delivered on a retry
  console: [],
  errors: [],
}

const userDataDir = await mkdtemp(join(tmpdir(), 'tailor-e2e-chromium-'))
let context
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.chromium,
    headless: true,
    timeout,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  })
  context.setDefaultTimeout(timeout)
  await context.route('**/*', (route) => {
    const url = route.request().url()
    if (allowed(url)) return route.continue()
    if (!summary.forbidden.includes(url)) summary.forbidden.push(url)
    return route.abort('blockedbyclient')
  })

  const page = context.pages()[0] ?? (await context.newPage())
  let inflight = 0
  page.on('request', (r) => {
    inflight++
    summary.requests.push({ method: r.method(), url: r.url(), resourceType: r.resourceType() })
    if (!allowed(r.url()) && !summary.forbidden.includes(r.url())) summary.forbidden.push(r.url())
  })
  // delivered holds the message ids of /v1/ requests answered 200.
  const delivered = new Set()
  page.on('requestfinished', async (r) => {
    inflight--
    if (!new URL(r.url()).pathname.startsWith('/v1/')) return
    const resp = await r.response()
    if (resp?.status() !== 200) return
    try {
      const body = JSON.parse(r.postData() ?? '{}')
      for (const m of body.batch ?? [body]) if (m.messageId) delivered.add(m.messageId)
    } catch {}
  })
  page.on('requestfailed', (r) => {
    inflight--
    if (allowed(r.url())) summary.failed.push({ url: r.url(), error: r.failure()?.errorText, at: new Date().toISOString() })
  })
  page.on('response', (r) => {
    if (new URL(r.url()).pathname.startsWith('/v1/')) {
      summary.apiResponses.push({
        url: r.url(),
        method: r.request().method(),
        status: r.status(),
        allowOrigin: r.headers()['access-control-allow-origin'] ?? null,
      })
    }
  })
  page.on('console', (m) => summary.console.push(`${m.type()}: ${m.text()}`))
  page.on('pageerror', (e) => summary.errors.push(`page error: ${e}`))

  await page.goto(opts.url, { waitUntil: 'load' })
  summary.result = await page.evaluate(() => window.tailorRun())

  // analytics.js may still have deliveries in flight (keepalive fetches), or
  // retries of failed ones queued with back-off.
  const ids = summary.result?.messageIds ?? []
  const done = () => inflight === 0 && ids.every((id) => delivered.has(id))
  const deadline = Date.now() + 20000
  while (!done() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50))
  const lost = ids.filter((id) => !delivered.has(id))
  if (lost.length) summary.errors.push(`analytics.js did not deliver ${lost.join(', ')} within 20s`)
  if (inflight > 0) summary.errors.push(`${inflight} requests still in flight after 20s`)
  // A refused or reset connection that analytics.js' retry got through is
  // reported, not fatal: the test is about what arrives, CORS and hosts.
  if (!lost.length) {
    const transient = (f) => /ERR_CONNECTION_(REFUSED|RESET|CLOSED)/.test(f.error ?? '')
    summary.retried = summary.failed.filter(transient)
    summary.failed = summary.failed.filter((f) => !transient(f))
  }

  const cookies = await context.cookies()
  summary.cookieAnonymousId = cookies.find((c) => c.name === 'ajs_anonymous_id')?.value ?? null
  summary.storageAnonymousId = await page.evaluate(() => localStorage.getItem('ajs_anonymous_id'))
} catch (err) {
  summary.errors.push(`${err?.stack ?? err}`)
} finally {
  await context?.close().catch((err) => summary.errors.push(`close: ${err}`))
  await rm(userDataDir, { recursive: true, force: true })
}

if (summary.forbidden.length) {
  summary.errors.push(`requests to hosts other than 127.0.0.1/localhost: ${summary.forbidden.join(', ')}`)
}
if (summary.failed.length || summary.retried.length) {
  // Diagnose: can this machine reach the hosts the browser could not?
  for (const f of [...summary.failed, ...summary.retried]) {
    const origin = new URL(f.url).origin
    try {
      const r = await fetch(`${origin}/readyz`)
      f.probe = `node fetch ${origin}/readyz after the run: ${r.status}`
    } catch (err) {
      f.probe = `node fetch ${origin}/readyz after the run: ${err?.cause?.code ?? err}`
    }
  }
  if (summary.failed.length) summary.errors.push(`failed requests: ${JSON.stringify(summary.failed)}`)
}
if (summary.result?.failedDeliveries?.length) {
  summary.errors.push(`analytics.js failed deliveries: ${summary.result.failedDeliveries.join('; ')}`)
}
process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
process.exit(summary.errors.length ? 1 : 0)
