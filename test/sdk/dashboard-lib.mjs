// dashboard-lib.mjs: what every dashboard scenario (dashboard-<owner>.mjs)
// shares: a headless Chromium, logging in, screenshots, the phone viewport.
//
//   import { launch, login, shot, phone, check } from './dashboard-lib.mjs'
//   const { browser, page, problems } = await launch()
//   await login(page, base, email, password)
//
// The page may reach only its own server: a request to any other host is
// blocked and, like an uncaught page error or a console error, listed in
// problems(), which a scenario should assert is empty at its end.
import { chromium } from 'playwright-core'
import { mkdir, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
/** screenshotDir is where shot writes: TAILOR_SCREENSHOT_DIR if set; else,
 * under CI (env CI set, as CI services do), a directory outside the clone,
 * so that a test run leaves the checkout as it found it; else the
 * repository's docs/screenshots, which the README shows. */
export const screenshotDir = process.env.TAILOR_SCREENSHOT_DIR
  || (process.env.CI ? join(tmpdir(), 'tailor-screenshots') : join(here, '..', '..', 'docs', 'screenshots'))

/** launch starts headless Chromium (env CHROMIUM, else /usr/bin/chromium)
 * with a 1280x800 page. Returns {browser, page, problems}. */
export async function launch({ timeout = 15000 } = {}) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    timeout,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  })
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' })
  context.setDefaultTimeout(timeout)
  const found = []
  let origin = null
  await context.route('**/*', (route) => {
    const url = new URL(route.request().url())
    if (origin === null && (url.protocol === 'http:' || url.protocol === 'https:')) origin = url.origin
    if (url.origin === origin || url.protocol === 'data:') return route.continue()
    found.push(`request to another host: ${url.href}`)
    return route.abort('blockedbyclient')
  })
  const page = await context.newPage()
  page.on('pageerror', (err) => found.push(`page error: ${err.message}`))
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return
    const text = msg.text()
    // The browser logs every 4xx answer; the API's errors are the app's to show.
    if (/Failed to load resource: the server responded with a status of 4\d\d/.test(text)) return
    found.push(`console error: ${text}`)
  })
  return { browser, page, problems: () => found.slice() }
}

/** login opens base/login, logs in and waits for the app to leave /login. */
export async function login(page, base, email, password) {
  await page.goto(`${base}/login`)
  await page.getByLabel('Email').fill(email)
  await page.getByLabel('Password').fill(password)
  await page.getByRole('button', { name: 'Log in' }).click()
  await page.waitForURL((u) => new URL(u).pathname !== '/login')
  await page.getByRole('button', { name: 'Log out' }).waitFor()
}

/** shot saves a full-page PNG as docs/screenshots/<name>.png; with
 * {fullPage: false}, only the viewport (for pages as long as a timeline). */
export async function shot(page, name, { fullPage = true } = {}) {
  if (!/^[a-z0-9-]+$/.test(name)) throw new Error(`shot: name ${JSON.stringify(name)} is not a fixed lower-case name`)
  await mkdir(screenshotDir, { recursive: true })
  // Let pending fetches and charts settle so the picture shows the page.
  await page.waitForLoadState('networkidle').catch(() => {})
  // A full page is drawn from the top: the sticky nav then sits where it
  // belongs instead of where the scenario last scrolled to.
  if (fullPage) await page.evaluate(() => window.scrollTo(0, 0))
  // Written beside and renamed: a reader (or a test killed half-way) never
  // sees half a PNG under the real name.
  const file = join(screenshotDir, `${name}.png`)
  const tmp = `${file}.tmp-${process.pid}`
  try {
    await writeFile(tmp, await page.screenshot({ fullPage }))
    await rename(tmp, file)
  } finally {
    await rm(tmp, { force: true })
  }
}

/** phone switches the page to a 390x844 viewport (desktop: setViewportSize back). */
export async function phone(page) {
  await page.setViewportSize({ width: 390, height: 844 })
}

/** check throws with message when ok is false. */
export function check(ok, message) {
  if (!ok) throw new Error(`check failed: ${message}`)
}
