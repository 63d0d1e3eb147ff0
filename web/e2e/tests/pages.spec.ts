import { expect, test, type Page, type TestInfo } from '@playwright/test'
import { demo, demoPortfolioId, expectAccessible, expectOneHeading, screenshot, signIn } from './support'

// Every page, signed out and then as alice (whose demo portfolio has a history, targets and an alert): it answers,
// has exactly one <h1>, has no serious or critical axe violation (WCAG 2 A and AA) in the light and in the dark colour
// scheme (the phone: light), is photographed whole in both into .local/screenshots/<project>/ (`make screenshots` runs only this file),
// and, on the phone, is no wider than the screen.
test.describe('@pages every page', () => {
  // Pages wider than the viewport (the document scrolls sideways), collected as the pages are visited.
  const tooWide: string[] = []

  /** Loads path, waits for its data, then scans and photographs it in both colour schemes. */
  async function check(page: Page, testInfo: TestInfo, name: string, path: string): Promise<void> {
    await page.emulateMedia({ colorScheme: 'light' })
    expect([200, 304], `GET ${path}`).toContain((await page.goto(path))?.status())
    await expectOneHeading(page)
    // Data first: a page scanned or photographed while loading says little.
    await expect(page.locator('[aria-busy="true"]')).toHaveCount(0, { timeout: 20_000 })
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme })
      // The phone's DOM is the desktop's: its dark scheme is photographed, not scanned again (axe takes seconds).
      if (scheme === 'light' || testInfo.project.name === 'desktop') await expectAccessible(page, `${path} (${scheme})`)
      await screenshot(page, testInfo, `${name}-${scheme}`)
    }
    const { scroll, client } = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth }))
    if (scroll > client) tooWide.push(`${path}: ${scroll} px wide in ${client}`)
  }

  test('signed out', async ({ page }, testInfo) => {
    await check(page, testInfo, 'sign-in', '/sign-in/')
    await check(page, testInfo, 'sign-up', '/sign-up/')
    // The root sends a signed-out visitor to sign in.
    await page.goto('/')
    await expect(page).toHaveURL(/\/sign-in\//)
  })

  test('signed in', async ({ page, request }, testInfo) => {
    const id = await demoPortfolioId(request)
    await signIn(page, demo)
    await check(page, testInfo, 'portfolios', '/portfolios/')
    await check(page, testInfo, 'portfolio', `/portfolio/?id=${id}`)
    await check(page, testInfo, 'transactions', `/portfolio/transactions/?id=${id}`)
    await check(page, testInfo, 'alerts', '/alerts/')
    await check(page, testInfo, 'settings', '/settings/')
  })

  // Usable on a phone: nothing makes the page itself scroll sideways (a wide table scrolls inside its own region).
  test('no page is wider than the screen', () => {
    expect(tooWide).toEqual([])
  })
})
