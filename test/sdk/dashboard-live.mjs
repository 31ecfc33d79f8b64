// dashboard-live.mjs: the live helper's dashboard scenario, as a marketer
// or the developer wiring an SDK would do it: log in, read the overview
// (its profile count against the API's), watch an event sent with
// @segment/analytics-node arrive in the live debugger, create a source,
// copy its key, send with it, revoke it and see the SDK's next request
// refused, browse and search the catalog. Screenshots: overview, events,
// sources, catalog at 1280 px; overview at 390 px.
//
// usage: node dashboard-live.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Analytics } from '@segment/analytics-node'
import { launch, login, shot, phone, check } from './dashboard-lib.mjs'

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string' },
    email: { type: 'string' },
    password: { type: 'string' },
    token: { type: 'string' },
    'write-key': { type: 'string' },
  },
})
for (const k of ['url', 'email', 'password', 'token', 'write-key']) {
  if (!opts[k]) {
    console.error(`usage: node dashboard-live.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY (missing --${k})`)
    process.exit(2)
  }
}
const base = opts.url.replace(/\/$/, '')
const run = Date.now().toString(36)

// apiGet reads the admin API with the admin token: the truth the pages are checked against.
async function apiGet(path) {
  const res = await fetch(base + path, { headers: { Authorization: `Bearer ${opts.token}` } })
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

// sdkSend sends one track with @segment/analytics-node and returns what the
// SDK reported: {error, statuses}.
async function sdkSend(writeKey, userId, event) {
  const analytics = new Analytics({ writeKey, host: base, flushAt: 1, flushInterval: 50, maxRetries: 0, httpRequestTimeout: 10000 })
  const statuses = []
  const errors = []
  analytics.on('http_response', (r) => statuses.push(r.status))
  analytics.on('error', (err) => errors.push(err?.reason?.message ?? err?.reason ?? err?.message ?? String(err)))
  const cbErr = await new Promise((resolve) => {
    analytics.track({ userId, event, properties: { run, sent_by: 'dashboard-live.mjs' } }, (err) => resolve(err))
  })
  await analytics.closeAndFlush({ timeout: 10000 })
  if (cbErr) errors.push(String(cbErr?.message ?? cbErr))
  return { statuses, error: errors.join('; ') }
}

const summary = { steps: [] }
const started = Date.now()
// Each step says when it ended (ms since the start), so a failure's place in time can be told.
const step = (name, extra = {}) => summary.steps.push({ name, ms: Date.now() - started, ...extra })
const { browser, page, problems } = await launch()
try {
  await login(page, base, opts.email, opts.password)

  // Overview: the profile count equals the API's.
  await page.goto(`${base}/`)
  const profilesStat = page.getByTestId('stat-profiles')
  await profilesStat.waitFor()
  let shown, api
  for (let i = 0; i < 20; i++) {
    shown = Number(await profilesStat.getAttribute('data-value'))
    api = (await apiGet('/api/stats')).current.profiles
    if (shown === api) break
    await page.waitForTimeout(500)
  }
  check(shown === api && api > 0, `overview shows ${shown} profiles, the API counts ${api}`)
  check(await page.getByRole('img', { name: /Chart: Events per second, 360 points/ }).count() === 1, 'the events chart covers the hour in 360 points')
  await page.getByRole('button', { name: 'Last day' }).click()
  await page.getByRole('img', { name: /Chart: Events per second, 288 points/ }).waitFor()
  check(new URL(page.url()).searchParams.get('range') === 'day', `the range is in the address: ${page.url()}`)
  await page.getByRole('button', { name: 'Last hour' }).click()
  await page.getByRole('img', { name: /Chart: Events per second, 360 points/ }).waitFor()
  step('overview', { profiles: shown })

  // The overview refreshes itself every 10 s, and not while its tab is
  // hidden (a page of its own, on a clock the test moves). The page has a
  // browser context of its own (with the same session): a clock is
  // installed for a whole context, and the pages used after this one must
  // keep the real time.
  {
    const ctx2 = await browser.newContext({ storageState: await page.context().storageState() })
    const p2 = await ctx2.newPage()
    await p2.clock.install()
    let calls = 0
    p2.on('request', (r) => { if (new URL(r.url()).pathname === '/api/stats') calls++ })
    await p2.goto(`${base}/`)
    await p2.getByTestId('stat-profiles').waitFor()
    const waitCalls = async (n, what) => {
      for (let i = 0; i < 50 && calls < n; i++) await p2.waitForTimeout(100)
      check(calls >= n, `${what}: ${calls} requests to /api/stats, want ${n}`)
    }
    const setHidden = (hidden) => p2.evaluate((h) => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => h })
      document.dispatchEvent(new Event('visibilitychange'))
    }, hidden)
    const c0 = calls
    await p2.clock.runFor(10_500)
    await waitCalls(c0 + 1, 'a refresh 10 s later')
    await setHidden(true)
    await p2.getByText('Paused while this tab is hidden').waitFor()
    const c1 = calls
    await p2.clock.runFor(35_000)
    await p2.waitForTimeout(300)
    check(calls === c1, `hidden for 35 s, the overview asked ${calls - c1} times, want none`)
    await setHidden(false)
    await waitCalls(c1 + 1, 'a refresh when the tab shows again')
    await ctx2.close()
    step('overview refreshes, and pauses while hidden')
  }

  // Live events: an event sent with the SDK appears, with its JSON.
  await page.goto(`${base}/events`)
  await page.locator('[data-testid="stream-status"][data-source=""]').filter({ hasText: 'Live' }).waitFor()
  const userId = `live-${run}`
  const eventName = `Dashboard Check ${run}`
  const sent = await sdkSend(opts['write-key'], userId, eventName)
  check(!sent.error && sent.statuses.every((s) => s === 200), `SDK send with the default key: ${JSON.stringify(sent)}`)
  const item = page.getByTestId('events-list').locator('li', { hasText: eventName })
  await item.waitFor({ timeout: 10000 })
  await item.locator('summary').click()
  const json = await item.locator('pre').textContent()
  check(json.includes(`"userId": "${userId}"`) && json.includes(`"run": "${run}"`), `the expanded JSON shows the message as sent: ${json}`)
  // Filter by type: identify hides the track, track shows it.
  await page.getByLabel('Type').selectOption('identify')
  await item.waitFor({ state: 'detached' })
  await page.getByLabel('Type').selectOption('track')
  await page.getByTestId('events-list').locator('li', { hasText: eventName }).waitFor()
  await page.getByLabel('Type').selectOption('')
  // Filter by source: the default source's stream carries it.
  await page.getByLabel('Source').selectOption('default')
  await page.waitForURL((u) => new URL(u).searchParams.get('source') === 'default')
  await page.locator('[data-testid="stream-status"][data-source="default"]').filter({ hasText: 'Live' }).waitFor()
  const second = `Second Check ${run}`
  check(!(await sdkSend(opts['write-key'], userId, second)).error, 'second SDK send')
  await page.getByTestId('events-list').locator('li', { hasText: second }).waitFor({ timeout: 10000 })
  // Pause: nothing new shows until resumed.
  await page.getByRole('button', { name: 'Pause' }).click()
  await page.getByTestId('stream-status').filter({ hasText: 'Paused' }).waitFor()
  const whilePaused = `While Paused ${run}`
  check(!(await sdkSend(opts['write-key'], userId, whilePaused)).error, 'SDK send while paused')
  await page.waitForTimeout(1000)
  check(await page.getByTestId('events-list').locator('li', { hasText: whilePaused }).count() === 0, 'a paused debugger shows no new events')
  step('live events', { event: eventName })
  await page.getByRole('button', { name: 'Resume' }).click()
  await page.getByTestId('stream-status').filter({ hasText: 'Live' }).waitFor()

  // A rejected message shows with its reason, live and in the stored view.
  const bad = await fetch(`${base}/v1/track`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: 'Basic ' + Buffer.from(opts['write-key'] + ':').toString('base64') },
    body: JSON.stringify({ event: `No Identity ${run}` }),
  })
  check(bad.status === 400, `a message without identity is refused, got ${bad.status}`)
  const rejectedLive = page.getByTestId('events-list').locator('li[data-kind="rejected"]', { hasText: 'anonymousId' })
  await rejectedLive.first().waitFor({ timeout: 10000 })
  await page.getByRole('button', { name: 'Refresh' }).click()
  await page.getByTestId('rejected-table').locator('tr', { hasText: `No Identity ${run}` }).waitFor()
  step('rejected shown live and stored')
  await page.getByTestId('events-list').locator('li', { hasText: eventName }).locator('summary').click()
  await page.getByRole('button', { name: 'Pause' }).click()
  await shot(page, 'events') // paused: no open stream keeps the network busy

  // Sources: create one, copy its key, send with it, revoke it.
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base })
  await page.goto(`${base}/sources`)
  const srcName = `E2E shop ${run}`
  await page.getByLabel('Name').fill(srcName)
  await page.getByLabel('Trust').selectOption('client')
  await page.getByRole('button', { name: 'Create source' }).click()
  const row = page.locator('tr', { hasText: srcName })
  await row.waitFor()
  await row.getByRole('button', { name: `Copy key of ${srcName}` }).click()
  await row.getByText('Copied').waitFor()
  const key = await page.evaluate(() => navigator.clipboard.readText())
  const listed = (await apiGet('/api/sources')).sources.find((s) => s.name === srcName)
  check(listed && listed.write_key === key && listed.trust === 'client', `copied key ${key}, the API lists ${JSON.stringify(listed)}`)
  const snippet = await page.getByTestId('snippet').textContent()
  check(snippet.includes(key) && snippet.includes(new URL(base).host), `the analytics.js snippet names the key and this server: ${snippet}`)
  await page.getByRole('tab', { name: 'analytics-node' }).click()
  check((await page.getByTestId('snippet').textContent()).includes(`host: '${base}'`), 'the analytics-node snippet points at this server')
  await page.getByRole('tab', { name: 'analytics-go' }).click()
  check((await page.getByTestId('snippet').textContent()).includes(`Endpoint: "${base}"`), 'the analytics-go snippet points at this server')
  const withNew = await sdkSend(key, `src-${run}`, `From New Source ${run}`)
  check(!withNew.error && withNew.statuses.includes(200), `SDK send with the new key: ${JSON.stringify(withNew)}`)
  await shot(page, 'sources')
  await row.getByRole('button', { name: `Revoke ${srcName}` }).click()
  await row.getByRole('button', { name: 'Yes, revoke' }).click()
  await row.waitFor({ state: 'detached' })
  await page.getByRole('status').filter({ hasText: `Revoked the key of ${listed.id}` }).waitFor()
  check(!(await apiGet('/api/sources')).sources.some((s) => s.id === listed.id), 'the API no longer lists the revoked source')
  const afterRevoke = await sdkSend(key, `src-${run}`, `After Revoke ${run}`)
  check(afterRevoke.statuses.includes(401) && afterRevoke.error, `the SDK's request with the revoked key is refused: ${JSON.stringify(afterRevoke)}`)
  // The debugger of every source shows such refusals too, with the key masked.
  await page.goto(`${base}/events`)
  await page.locator('[data-testid="stream-status"][data-source=""]').filter({ hasText: 'Live' }).waitFor()
  const again = await sdkSend(key, `src-${run}`, `Revoked Again ${run}`)
  check(again.statuses.includes(401), `the revoked key is refused again: ${JSON.stringify(again)}`)
  const refusal = page.getByTestId('events-list').locator('li[data-kind="rejected"]', { hasText: 'unknown write key' })
  await refusal.first().waitFor({ timeout: 10000 })
  const refusalText = await refusal.first().textContent()
  check(!refusalText.includes(key) && refusalText.includes(key.slice(0, 4)), `the refusal names the key masked: ${refusalText}`)
  step('sources', { created: listed.id, revokedRequest: afterRevoke })

  // Catalog: the category tree, a category, a search, a product.
  await page.goto(`${base}/catalog`)
  const cats = (await apiGet('/api/catalog/categories')).categories
  const top = cats[0].path.split(' > ')[0]
  const tree = page.getByRole('navigation', { name: 'Categories' })
  await tree.getByRole('link', { name: top, exact: true }).click()
  await page.waitForURL((u) => new URL(u).searchParams.get('category') === top)
  const inTop = cats.filter((c) => c.path === top || c.path.startsWith(top + ' > ')).reduce((n, c) => n + c.products, 0)
  const rows = page.getByTestId('products').locator('tbody tr')
  // The list of the category (not the one before it): it says how many of
  // the category's products it shows.
  await page.getByTestId('product-count').filter({ hasText: inTop > 50 ? `50 of ${inTop} products` : `${inTop} products` }).waitFor()
  const nRows = await rows.count()
  check(nRows === Math.min(inTop, 50), `category ${top}: ${nRows} rows, the API counts ${inTop}`)
  await shot(page, 'catalog', { fullPage: false })
  const sample = (await apiGet('/api/catalog/products?limit=1')).products[0]
  const word = sample.name.split(' ').sort((a, b) => b.length - a.length)[0]
  await page.goto(`${base}/catalog`)
  await page.getByLabel('Search products by name, id or brand').fill(word)
  await page.waitForURL((u) => new URL(u).searchParams.get('q') === word)
  const want = (await apiGet(`/api/catalog/products?q=${encodeURIComponent(word)}&limit=50`)).products
  await page.getByTestId('product-count').filter({ hasText: new RegExp(`^${want.length}\\+? products$`) }).waitFor()
  const nFound = await rows.count()
  check(nFound === want.length, `search "${word}": ${nFound} rows, the API finds ${want.length}`)
  await page.getByTestId('products').getByRole('link', { name: sample.name, exact: true }).first().click()
  await page.getByRole('heading', { level: 1, name: sample.name }).waitFor()
  check((await page.getByTestId('price').textContent()).includes(String(Math.floor(sample.price))), 'the product page shows its price')
  step('catalog', { category: top, search: word, found: want.length })

  // The overview's picture is taken last, when its charts have a few
  // points (one every 10 s), then on a phone.
  await page.goto(`${base}/`)
  await page.getByTestId('stat-profiles').waitFor()
  await shot(page, 'overview')
  await phone(page)
  await page.goto(`${base}/`)
  await page.getByTestId('stat-profiles').waitFor()
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)
  check(await overflow() <= 0, `the overview fits 390 px (overflows by ${await overflow()} px)`)
  await shot(page, 'overview-390')
  // The other pages fit a phone too (wide tables scroll inside their box).
  for (const [path, ready] of [['/events', 'stream-status'], ['/sources', 'snippet'], ['/catalog', 'products'], [`/catalog/${encodeURIComponent(sample.id)}`, 'price']]) {
    await page.goto(base + path)
    await page.getByTestId(ready).first().waitFor()
    check(await overflow() <= 0, `${path} fits 390 px (overflows by ${await overflow()} px)`)
  }

  const found = problems()
  check(found.length === 0, `browser problems: ${found.join('; ')}`)
  summary.ok = true
} catch (err) {
  summary.error = String(err?.stack || err)
  summary.failedAtMs = Date.now() - started
  summary.problems = problems()
  const failure = join(tmpdir(), `dashboard-live-failure-${run}.png`)
  summary.failureScreenshot = failure
  await page.screenshot({ path: failure, fullPage: true }).catch(() => {})
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
process.exit(summary.ok ? 0 : 1)
