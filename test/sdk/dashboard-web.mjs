// dashboard-web.mjs: the web helper's dashboard scenario, as a marketer
// would do it: log in, find the demo customer, open their profile, read the
// timeline (endless scroll, one event expanded), follow a segment's "why?",
// manage users, log out. Every figure shown is compared with the API's.
//
// usage: node dashboard-web.mjs --url BASE --email E --password P --token ADMIN_TOKEN [--customer user-3]
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { launch, login, shot, phone, check } from './dashboard-lib.mjs'

const { values: opts } = parseArgs({
  options: {
    url: { type: 'string' },
    email: { type: 'string' },
    password: { type: 'string' },
    token: { type: 'string' },
    customer: { type: 'string', default: 'user-3' },
  },
})
for (const k of ['url', 'email', 'password', 'token']) {
  if (!opts[k]) {
    console.error(`usage: node dashboard-web.mjs --url BASE --email E --password P --token ADMIN_TOKEN (missing --${k})`)
    process.exit(2)
  }
}
const base = opts.url.replace(/\/$/, '')

// apiGet reads the admin API with the admin token: the truth the pages are checked against.
async function apiGet(path) {
  const res = await fetch(base + path, { headers: { Authorization: `Bearer ${opts.token}` } })
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

const summary = { steps: [] }
const step = (name, extra = {}) => summary.steps.push({ name, ...extra })
const { browser, page, problems } = await launch()
try {
  // Log in, with the password tailor serve printed.
  await page.goto(`${base}/profiles`)
  await page.waitForURL((u) => new URL(u).pathname === '/login')
  check(new URL(page.url()).searchParams.get('next') === '/profiles', `a logged-out visit to /profiles goes to /login?next=/profiles, got ${page.url()}`)
  await page.getByLabel('Email').waitFor()
  await shot(page, 'login')
  await page.getByLabel('Email').fill(opts.email)
  await page.getByLabel('Password').fill('not the password')
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.getByRole('alert').filter({ hasText: 'Wrong email or password' }).waitFor()
  step('wrong password refused')
  await login(page, base, opts.email, opts.password)
  await page.getByTestId('me-email').filter({ hasText: opts.email }).waitFor()
  step('logged in', { at: new URL(page.url()).pathname })

  // Find the customer by user id from the Profiles page.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Profiles' }).click()
  await page.waitForURL((u) => new URL(u).pathname === '/profiles')
  await page.getByLabel('User id, anonymous id, email, phone or profile id').fill(opts.customer)
  await page.getByRole('button', { name: 'Find' }).click()
  const results = page.getByTestId('profile-results')
  await results.waitFor()
  const apiProfile = await apiGet(`/api/profiles/${encodeURIComponent(opts.customer)}`)
  const rows = results.locator('tbody tr')
  check(await rows.count() === 1, `one result for ${opts.customer}, got ${await rows.count()}`)
  check((await rows.first().innerText()).includes(opts.customer), `the result row names ${opts.customer}`)
  await shot(page, 'profiles')
  step('found', { profile: apiProfile.id })

  // Open the profile: its order count is the API's.
  await rows.first().getByRole('link').click()
  await page.waitForURL((u) => new URL(u).pathname === `/profiles/${apiProfile.id}`)
  const orders = (await page.getByTestId('stat-orders').innerText()).trim()
  const apiOrders = apiProfile.computed.orders || 0
  check(orders === String(apiOrders), `orders shown ${orders}, API says ${apiOrders}`)
  const events = (await page.getByTestId('stat-events').innerText()).replace(/\D/g, '')
  check(events === String(apiProfile.computed.event_count), `events shown ${events}, API says ${apiProfile.computed.event_count}`)
  step('profile', { orders, events })

  // The timeline: newest first, more on scrolling.
  const first = await apiGet(`/api/profiles/${apiProfile.id}/timeline?limit=50`)
  check(first.next_cursor, `${opts.customer} needs more than one timeline page for this test (API: ${first.events.length} events, no next_cursor)`)
  const items = page.getByTestId('timeline').locator(':scope > li')
  await items.nth(first.events.length - 1).waitFor()
  const before = await items.count()
  check(before === first.events.length, `first timeline page shows ${before} events, API answered ${first.events.length}`)
  await items.last().scrollIntoViewIfNeeded()
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=timeline] > li').length > n, before)
  const after = await items.count()
  step('timeline scrolled', { before, after })

  // Expand the newest event: its JSON is the API's.
  await items.first().locator('summary').click()
  const json = JSON.parse(await page.getByTestId('event-json').first().innerText())
  check(json.message_id === first.events[0].message_id, `expanded event ${json.message_id}, API's newest is ${first.events[0].message_id}`)
  step('event expanded', { message_id: json.message_id })
  await items.first().locator('summary').click()

  await page.evaluate(() => window.scrollTo(0, 0))
  await shot(page, 'profile', { fullPage: false }) // the timeline makes the page ~4000 px long
  await phone(page)
  await page.getByRole('button', { name: 'Menu' }).waitFor()
  await shot(page, 'profile-390', { fullPage: false })
  await page.setViewportSize({ width: 1280, height: 800 })

  // Segments: the same as the API's; "why?" opens the explanation page.
  const view = await apiGet(`/api/profiles/${apiProfile.id}/segments`)
  const segLinks = page.getByTestId('profile-segments').getByRole('link', { name: /^Why is this customer in/ })
  check(view.segments.length > 0, `${opts.customer} is in no segment; the demo store should put them in some`)
  await segLinks.first().waitFor()
  check(await segLinks.count() === view.segments.length, `${await segLinks.count()} "why?" links, API lists ${view.segments.length} segments`)
  await segLinks.first().click()
  const whyPath = `/segments/${view.segments[0].id}/why/${apiProfile.id}`
  await page.waitForURL((u) => new URL(u).pathname === whyPath)
  await page.locator('main h1').first().waitFor()
  await page.waitForLoadState('networkidle')
  const why = await page.locator('main').innerText()
  check(!/failed to load|page failed/i.test(why), `the why page did not load: ${why.slice(0, 300)}`)
  step('why', { path: whyPath })

  // Users (admin): the admin is listed; add a viewer, then remove it.
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Users' }).click()
  const users = page.getByTestId('users')
  await users.getByRole('cell', { name: opts.email, exact: false }).first().waitFor()
  const viewer = `viewer-${Date.now()}@example.com`
  await page.getByLabel('Email').fill(viewer)
  await page.getByLabel('Password').fill('a long enough password')
  await page.getByLabel('Role').selectOption('viewer')
  await page.getByRole('button', { name: 'Add user' }).click()
  await users.getByRole('cell', { name: viewer, exact: true }).waitFor()
  const apiUsers = (await apiGet('/api/users')).users
  check(apiUsers.some((u) => u.email === viewer && u.role === 'viewer'), `the API lists ${viewer} as viewer: ${JSON.stringify(apiUsers)}`)
  await shot(page, 'users')
  await page.getByRole('button', { name: `Remove ${viewer}` }).click()
  await page.getByRole('button', { name: `Remove ${viewer}` }).click() // the confirmation
  await users.getByRole('cell', { name: viewer, exact: true }).waitFor({ state: 'detached' })
  step('users')

  // Log out: back at the login page, and the pages need a login again.
  await page.getByRole('button', { name: 'Log out' }).click()
  await page.waitForURL((u) => new URL(u).pathname === '/login')
  await page.goto(`${base}/profiles/${apiProfile.id}`)
  await page.waitForURL((u) => new URL(u).pathname === '/login')
  step('logged out')

  const found = problems()
  check(found.length === 0, `the browser saw problems:\n  ${found.join('\n  ')}`)
  console.log(JSON.stringify(summary))
} catch (err) {
  summary.error = err.message
  summary.at = page.url()
  summary.problems = problems()
  summary.main = await page.locator('main, body').first().innerText().catch(() => '')
  console.log(JSON.stringify(summary, null, 1))
  process.exitCode = 1
} finally {
  await browser.close()
}
