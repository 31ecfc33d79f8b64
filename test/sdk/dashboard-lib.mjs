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
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
/** screenshotDir is docs/screenshots of the repository. */
export const screenshotDir = join(here, '..', '..', 'docs', 'screenshots')

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
  await mkdir(screenshotDir, { recursive: true })
  // Let pending fetches and charts settle so the picture shows the page.
  await page.waitForLoadState('networkidle').catch(() => {})
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage })
}

/** phone switches the page to a 390x844 viewport (desktop: setViewportSize back). */
export async function phone(page) {
  await page.setViewportSize({ width: 390, height: 844 })
}

/** check throws with message when ok is false. */
export function check(ok, message) {
  if (!ok) throw new Error(`check failed: ${message}`)
}
