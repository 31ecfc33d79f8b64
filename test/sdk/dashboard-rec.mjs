// dashboard-rec.mjs: the recommendations page as a merchandiser uses it:
// "also bought" for a bestseller (against GET /api/recommendations), a
// demo customer's "for you" with diversity and a category window (the
// filters applied on the page as in the API), a purchase that takes the
// product out of the next preview, a bundle with its saving, and the
// evaluation table. Screenshots: rec-item, rec-profile, rec-bundle at
// 1280 px, rec-phone at 390 px.
//
// usage: node dashboard-rec.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY --user DEMO_USER_ID
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { launch, login, shot, phone, check } from './dashboard-lib.mjs'

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string' }, email: { type: 'string' }, password: { type: 'string' }, token: { type: 'string' },
    'write-key': { type: 'string' }, user: { type: 'string' },
  },
})
for (const k of ['url', 'email', 'password', 'token', 'write-key', 'user']) {
  if (!opts[k]) {
    console.error(`usage: node dashboard-rec.mjs --url BASE --email E --password P --token ADMIN_TOKEN --write-key KEY --user ID (missing --${k})`)
    process.exit(2)
  }
}
const base = opts.url.replace(/\/$/, '')

async function apiGet(path) {
  const res = await fetch(base + path, { headers: { Authorization: `Bearer ${opts.token}` } })
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

const rowIds = (page) => page.locator('[data-testid="rec-items"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.item))

// preview opens the page for a query and waits for its answer.
async function preview(page, query) {
  await page.goto(`${base}/recommendations?${query}`)
  await page.locator('[data-testid="rec-items"], [data-testid="rec-empty"]').first().waitFor()
}

const summary = { steps: [] }
const step = (name, extra = {}) => summary.steps.push({ name, ...extra })
const { browser, page, problems } = await launch()
try {
  await login(page, base, opts.email, opts.password)
  step('logged in')

  // Also bought for the top bestseller: the same items, in the same order,
  // each with a reason.
  const best = await apiGet('/api/recommendations?strategy=bestsellers&limit=5')
  check(best.items.length > 0, 'the demo store has bestsellers')
  let seed = null
  let want = null
  for (const it of best.items) {
    const r = await apiGet(`/api/recommendations?strategy=also_bought&item=${encodeURIComponent(it.id)}&limit=8`)
    if (r.items.length >= 3) { seed = it.id; want = r.items.map((x) => x.id); break }
  }
  check(seed, 'a bestseller with at least 3 items bought with it')
  await preview(page, `strategy=also_bought&item=${encodeURIComponent(seed)}&limit=8`)
  const got = await rowIds(page)
  check(JSON.stringify(got) === JSON.stringify(want), `also bought ${seed}: page ${got}, API ${want}`)
  const reasons = await page.locator('.rec-reason').allTextContents()
  check(reasons.every((r) => /bought together with/.test(r)), `reasons: ${reasons}`)
  step('also bought matches the API', { seed, items: got.length })
  await shot(page, 'rec-item')

  // For you, filled in through the form: one per category, no category
  // bought in the last 10 years (the demo's history): the page applies the
  // same filters as the API.
  await page.goto(`${base}/recommendations`)
  await page.waitForFunction(() => document.querySelectorAll('#rec-strategy option').length > 1)
  await page.selectOption('#rec-strategy', 'for_you')
  await page.fill('#rec-profile', opts.user)
  await page.fill('#rec-limit', '8')
  await page.fill('#rec-maxcat', '1')
  await page.fill('#rec-catdays', '3650')
  await page.getByRole('button', { name: 'Preview' }).click()
  await page.waitForURL((u) => new URL(u).searchParams.get('profile') === opts.user)
  await page.locator('[data-testid="rec-items"]').waitFor()
  const forYou = await apiGet(`/api/recommendations?strategy=for_you&profile=${encodeURIComponent(opts.user)}&limit=8&max_per_category=1&exclude_category_days=3650`)
  const fy = await rowIds(page)
  check(JSON.stringify(fy) === JSON.stringify(forYou.items.map((x) => x.id)), `for you: page ${fy}, API ${forYou.items.map((x) => x.id)}`)
  const cats = await page.locator('.rec-cat').allTextContents()
  check(new Set(cats).size === cats.length, `one per category: ${cats}`)
  const bought = await apiGet(`/api/recommendations?strategy=buy_again&profile=${encodeURIComponent(opts.user)}&limit=50`)
  const boughtCats = new Set(bought.items.map((x) => x.category))
  check(cats.every((c) => !boughtCats.has(c)), `for you shows a category the customer bought: ${cats} vs ${[...boughtCats]}`)
  step('for you with filters matches the API', { items: fy.length })
  await shot(page, 'rec-profile')

  // A purchase takes the top item out of the next preview at once.
  const top = fy[0]
  const res = await fetch(`${base}/v1/track`, {
    method: 'POST',
    headers: { Authorization: 'Basic ' + Buffer.from(opts['write-key'] + ':').toString('base64'), 'Content-Type': 'application/json' },
    body: JSON.stringify({ userId: opts.user, event: 'Order Completed', properties: { order_id: 'rec-e2e-1', products: [{ product_id: top, quantity: 1 }] } }),
  })
  check(res.ok, `track: ${res.status}`)
  let after = fy
  for (let i = 0; i < 50 && after.includes(top); i++) {
    await page.reload()
    await page.locator('[data-testid="rec-items"], [data-testid="rec-empty"]').first().waitFor()
    after = await rowIds(page)
  }
  check(!after.includes(top), `${top} is still recommended after its purchase: ${after}`)
  step('a purchase removes the item', { item: top })

  // A bundle: the seed with its complements, cheaper together.
  await preview(page, `strategy=bundle&item=${encodeURIComponent(seed)}&limit=3`)
  await page.locator('[data-testid="rb-saving"]').waitFor()
  const bundle = await apiGet(`/api/recommendations/bundle?item=${encodeURIComponent(seed)}`)
  check(bundle.saving > 0 && bundle.items.length > 0, `bundle ${JSON.stringify(bundle)}`)
  const saving = (await page.locator('[data-testid="rb-saving"]').textContent()).replace(/[^0-9.]/g, '')
  check(Math.abs(Number(saving) - bundle.saving) < 0.01, `saving on the page ${saving}, API ${bundle.saving}`)
  step('bundle', { items: bundle.items.length, saving: bundle.saving })
  await shot(page, 'rec-bundle')

  // The evaluation table: for_you beats most popular on the demo store.
  const evalRows = await page.locator('[data-testid="rec-eval"] tr[data-strategy]').count()
  const { runs } = await apiGet('/api/recommendations/evaluation')
  check(evalRows === runs.reduce((n, r) => n + r.rows.length, 0), `evaluation rows ${evalRows}`)
  step('evaluation table', { rows: evalRows })

  await phone(page)
  await preview(page, `strategy=for_you&profile=${encodeURIComponent(opts.user)}&limit=4`)
  await shot(page, 'rec-phone', { fullPage: false })
  step('phone')

  check(problems().length === 0, `browser problems: ${problems().join('; ')}`)
  console.log(JSON.stringify(summary))
} catch (err) {
  console.error(err.message)
  console.error(JSON.stringify(summary))
  process.exitCode = 1
} finally {
  await browser.close()
}
