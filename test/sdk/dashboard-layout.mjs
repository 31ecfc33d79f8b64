// dashboard-layout.mjs: every dashboard page at a laptop (1280 px) and a
// phone (390 px) width: it loads without an error, nothing is wider than the
// window, the nav column's background reaches the bottom of the page and the
// nav stays in view while the page scrolls (1280), the menu opens from the
// top bar (390). Then the keyboard: every control Tab reaches shows where the
// focus is. Then errors: a missing profile, segment or product is said in
// words, never a blank page. It also weighs a first visit (at most 500 KB).
//
// usage: node dashboard-layout.mjs --url BASE --email E --password P --token ADMIN_TOKEN [--customer user-3]
// Prints a JSON summary; exits 1 with the reason on the first failure.
import { parseArgs } from 'node:util'
import { launch, login, phone, check } from './dashboard-lib.mjs'

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
    console.error(`usage: node dashboard-layout.mjs --url BASE --email E --password P --token ADMIN_TOKEN (missing --${k})`)
    process.exit(2)
  }
}
const base = opts.url.replace(/\/$/, '')

async function apiGet(path) {
  const res = await fetch(base + path, { headers: { Authorization: `Bearer ${opts.token}` } })
  if (!res.ok) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`)
  return res.json()
}

// open loads path afresh and waits for its heading and the end of its
// first requests (the live events page keeps a stream open: not waited for).
async function open(page, path) {
  await page.goto(base + path)
  await page.locator('main h1').first().waitFor()
  await page.waitForLoadState('networkidle', { timeout: 3000 }).catch(() => {})
  await page.waitForFunction(() => !document.querySelector('main .spinner'), null, { timeout: 5000 }).catch(() => {})
}

const summary = { pages: [] }
const { browser, page, problems } = await launch()
try {
  const prof = await apiGet(`/api/profiles/${encodeURIComponent(opts.customer)}`)
  const { segments } = await apiGet('/api/segments')
  check(segments.length > 0, 'the demo store has segments')
  const seg = segments[0].id
  const { products } = await apiGet('/api/catalog/products?limit=1')
  const enc = encodeURIComponent
  const pages = ['/', '/profiles', `/profiles?id=${enc(opts.customer)}`, `/profiles/${enc(prof.id)}`, '/segments',
    '/segments/new', `/segments/${enc(seg)}`, `/segments/${enc(seg)}/edit`, `/segments/${enc(seg)}/why/${enc(prof.id)}`,
    '/events', '/sources', '/catalog', `/catalog/${enc(products[0].id)}`, '/users']

  // First visit: the login page, then the overview it leads to (one
  // document, nothing cached), every byte over the wire counted.
  await login(page, base, opts.email, opts.password)
  await page.locator('main h1').first().waitFor()
  await page.waitForLoadState('networkidle', { timeout: 5000 }).catch(() => {})
  await page.waitForFunction(() => document.querySelectorAll('.chart .uplot').length > 0, null, { timeout: 5000 })
  const weight = await page.evaluate(() => performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
    .reduce((n, e) => n + e.transferSize, 0))
  summary.firstVisitBytes = weight
  check(weight > 20000 && weight <= 500 * 1024, `a first visit (login, then the overview with its charts) transfers ${weight} bytes, want at most 500 KB`)
  for (const [width, height] of [[1280, 800], [390, 844]]) {
    if (width === 390) await phone(page)
    else await page.setViewportSize({ width, height })
    for (const path of pages) {
      await open(page, path)
      const m = await page.evaluate(() => {
        const col = document.querySelector('.nav-col')
        const alerts = [...document.querySelectorAll('main [role="alert"]')].map((a) => a.textContent.trim()).filter(Boolean)
        return {
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          docHeight: document.documentElement.scrollHeight,
          colBottom: col ? col.getBoundingClientRect().bottom + window.scrollY : -1,
          colBg: col ? getComputedStyle(col).backgroundColor : '',
          alerts,
          // The innermost element reaching past the window's right edge, to name in a failure.
          widest: (() => {
            let out = ''
            for (const el of document.querySelectorAll('body *')) {
              if (el.getBoundingClientRect().right > window.innerWidth + 1 && !el.closest('.table-wrap, pre, [style*="overflow"]')) {
                out = `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : ''} "${(el.textContent || '').trim().slice(0, 40)}"`
              }
            }
            return out
          })(),
        }
      })
      const where = `${path} at ${width} px`
      check(m.alerts.length === 0, `${where}: the page shows an error: ${m.alerts.join(' | ')}`)
      check(m.overflow <= 1, `${where}: the page is ${m.overflow} px wider than the window (${m.widest})`)
      if (width === 1280) {
        check(Math.abs(m.colBottom - m.docHeight) <= 1, `${where}: the nav column ends at ${m.colBottom} px, the page at ${m.docHeight} px`)
        check(m.colBg !== 'rgba(0, 0, 0, 0)', `${where}: the nav column has no background`)
        // Scrolled to the end, the nav is still at the top of the window.
        await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight))
        const top = await page.locator('#nav').evaluate((n) => n.getBoundingClientRect().top)
        check(Math.abs(top) <= 1, `${where}: scrolled to the end, the nav is at ${top} px instead of the top of the window`)
        check(await page.getByRole('link', { name: 'Segments', exact: true }).isVisible(), `${where}: the nav's links are out of view`)
      } else {
        const toggle = page.getByRole('button', { name: 'Menu' })
        check(await toggle.isVisible(), `${where}: no Menu button in the top bar`)
        check(!(await page.locator('#nav').isVisible()), `${where}: the nav is open before the Menu is pressed`)
      }
      summary.pages.push({ path, width, height: m.docHeight })
    }
  }
  // The phone's menu opens and leads somewhere.
  await open(page, '/')
  await page.getByRole('button', { name: 'Menu' }).click()
  await page.locator('#nav').getByRole('link', { name: 'Catalog' }).click()
  await page.waitForURL((u) => new URL(u).pathname === '/catalog')
  check(!(await page.locator('#nav').isVisible()), 'at 390 px, the menu closes after following one of its links')

  // Keyboard: each of the first stops of Tab on two pages shows an outline.
  await page.setViewportSize({ width: 1280, height: 800 })
  const stops = []
  for (const path of ['/', `/segments/${enc(seg)}/edit`]) {
    await open(page, path)
    for (let i = 0; i < 14; i++) {
      await page.keyboard.press('Tab')
      const f = await page.evaluate(() => {
        const el = document.activeElement
        if (!el || el === document.body) return null
        const s = getComputedStyle(el)
        const r = el.getBoundingClientRect()
        return { what: `${el.tagName.toLowerCase()} "${(el.textContent || el.id || '').trim().slice(0, 30)}"`,
          outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 1, shadow: s.boxShadow !== 'none',
          onScreen: r.width > 0 && r.height > 0 && r.left >= -1 && r.right <= window.innerWidth + 1 }
      })
      if (!f) continue
      check(f.outline || f.shadow, `${path}: Tab stop ${i + 1} (${f.what}) shows no focus outline`)
      check(f.onScreen, `${path}: Tab stop ${i + 1} (${f.what}) is off the screen`)
      stops.push(f.what)
    }
  }
  summary.tabStops = stops.length
  check(stops.length >= 20, `Tab reached only ${stops.length} controls on the two pages`)

  // Errors in words, for a page whose subject does not exist.
  for (const path of ['/profiles/nobody-at-all', '/segments/no-such-segment', '/segments/no-such-segment/edit', '/catalog/no-such-product',
    '/segments/no-such-segment/why/nobody', '/no/such/page']) {
    await page.goto(base + path)
    const said = page.locator('main [role="alert"], main h1:has-text("Page not found")').first()
    await said.waitFor()
    const text = (await said.textContent()).trim()
    check(text.length > 10 && !/\[object |undefined|null/.test(text), `${path}: the error reads ${JSON.stringify(text)}`)
    summary.pages.push({ path, error: text })
  }

  const found = problems()
  check(found.length === 0, `browser problems: ${found.join('; ')}`)
  summary.ok = true
} catch (err) {
  summary.error = String(err?.stack || err)
  summary.problems = problems()
} finally {
  await browser.close()
}
process.stdout.write(JSON.stringify(summary, null, 2) + '\n')
process.exit(summary.ok ? 0 : 1)
