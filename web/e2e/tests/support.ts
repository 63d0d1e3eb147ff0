import { expect, type APIRequestContext, type Page, type TestInfo } from '@playwright/test'
import AxeBuilder from '@axe-core/playwright'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'

// The local stack the harness started (localstack/e2e/browser_test.go).
export const stack = {
  api: need('PT_API_URL'),
  admin: need('PT_ADMIN_URL'),
  // .local/ of the repository: screenshots/ and the measurements go there (ignored by git).
  out: process.env.PT_OUT_DIR || join(process.cwd(), '..', '..', '.local'),
}

function need(name: string): string {
  const v = process.env[name]
  if (!v) throw new Error(`${name} is not set: run the browser tests with \`make test-web\``)
  return v
}

// The demo's users (localstack/stack/demo.go): alice has a portfolio with three years of trades, targets and a
// price alert on AAPL.
export const demo = { email: 'alice@example.test', password: 'demo-password' }

// A user of this run only: sign-up makes a new one every time, and the data folder is the harness's own.
export function newUser(testInfo: TestInfo): { email: string; password: string } {
  const stamp = `${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`
  return { email: `e2e-${testInfo.project.name}-${stamp}@example.test`, password: 'journey-password-1' }
}

/** An access token for a user straight from the stack's admin endpoint (no password): for API look-ups only. */
export async function adminToken(request: APIRequestContext, user: string): Promise<string> {
  const resp = await request.post(`${stack.admin}/token?user=${encodeURIComponent(user)}`)
  expect(resp.ok(), `admin /token: ${resp.status()}`).toBeTruthy()
  return ((await resp.json()) as { accessToken: string }).accessToken
}

export async function apiGet<T>(request: APIRequestContext, token: string, path: string): Promise<T> {
  const resp = await request.get(`${stack.api}${path}`, { headers: { Authorization: `Bearer ${token}` } })
  expect(resp.ok(), `GET ${path}: ${resp.status()} ${await resp.text()}`).toBeTruthy()
  return (await resp.json()) as T
}

/** Alice's demo portfolio's ID. */
export async function demoPortfolioId(request: APIRequestContext): Promise<string> {
  const token = await adminToken(request, 'alice')
  const list = await apiGet<{ items: { id: string }[] }>(request, token, '/portfolios')
  const id = list.items[0]?.id
  expect(id, 'alice has a demo portfolio').toBeTruthy()
  return id!
}

export async function signIn(page: Page, user: { email: string; password: string }): Promise<void> {
  await page.goto('/sign-in/')
  await page.getByLabel(/e-?mail/i).fill(user.email)
  await page.getByLabel(/password/i).fill(user.password)
  await page.getByRole('button', { name: /sign in|log in/i }).click()
  await expect(page).toHaveURL(/\/portfolios\/|\/portfolio\//)
}

/** Fails on any serious or critical WCAG 2 A/AA violation, naming each with its elements. */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  const result = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa']).analyze()
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  const report = bad.map((v) => `${v.impact} ${v.id}: ${v.help}\n    ${v.nodes.slice(0, 5).map((n) => n.target.join(' ')).join('\n    ')}`)
  expect(report, `axe on ${name}`).toEqual([])
}

/** A full-page PNG of the page as it is now, into .local/screenshots/<project>/<name>.png. */
export async function screenshot(page: Page, testInfo: TestInfo, name: string): Promise<void> {
  const dir = join(stack.out, 'screenshots', testInfo.project.name)
  mkdirSync(dir, { recursive: true })
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true, animations: 'disabled' })
}

/** Every page has exactly one <h1>; waits for it (and so for the page's data to have started rendering). */
export async function expectOneHeading(page: Page): Promise<void> {
  await expect(page.getByRole('heading', { level: 1 })).toHaveCount(1)
}

/**
 * Waits for what a command changed to show. The API answers a query made right after a command with what its read
 * model has once it waited a bounded second for it (§10 "Read-your-writes"), saying so (X-Read-Model-Stale); on a
 * loaded machine the projection can take longer. Should the page still show the older state after `first` ms, the
 * page is reloaded once, as a person would, and that is recorded as an annotation ("stale read") so that a run shows
 * how often it happened.
 */
export async function expectSoon(page: Page, testInfo: TestInfo, what: string, check: (timeout: number) => Promise<void>, first = 8_000): Promise<void> {
  try {
    await check(first)
  } catch {
    testInfo.annotations.push({ type: 'stale read', description: `${what}: not shown ${first} ms after the command; reloaded` })
    await page.reload()
    await check(15_000)
  }
}

