import { expect, test } from '@playwright/test'
import { demo, demoPortfolioId, expectAccessible, expectOneHeading, screenshot, signIn } from './support'

// Every page, signed out and then as alice (whose demo portfolio has a history, targets and an alert): one <h1>,
// no serious or critical axe violation (WCAG 2 A and AA), and a full-page screenshot into .local/screenshots
// (`make screenshots` runs only this file). In light and dark colour schemes: dark mode is a page state too.
test.describe('@pages every page', () => {
  for (const scheme of ['light', 'dark'] as const) {
    test(`signed out, ${scheme}`, async ({ page }, testInfo) => {
      await page.emulateMedia({ colorScheme: scheme })
      for (const [name, path] of [['sign-in', '/sign-in/'], ['sign-up', '/sign-up/']] as const) {
        expect([200, 304], `GET ${path}`).toContain((await page.goto(path))?.status())
        await expectOneHeading(page)
        await expectAccessible(page, `${path} (${scheme})`)
        await screenshot(page, testInfo, `${name}-${scheme}`)
      }
      // The root sends a signed-out visitor to sign in.
      await page.goto('/')
      await expect(page).toHaveURL(/\/sign-in\//)
    })

    test(`signed in, ${scheme}`, async ({ page, request }, testInfo) => {
      await page.emulateMedia({ colorScheme: scheme })
      const id = await demoPortfolioId(request)
      await signIn(page, demo)
      for (const [name, path] of [
        ['portfolios', '/portfolios/'],
        ['portfolio', `/portfolio/?id=${id}`],
        ['transactions', `/portfolio/transactions/?id=${id}`],
        ['alerts', '/alerts/'],
        ['settings', '/settings/'],
      ] as const) {
        expect([200, 304], `GET ${path}`).toContain((await page.goto(path))?.status())
        await expectOneHeading(page)
        // Data first: a page scanned or photographed while loading says little.
        await page.waitForLoadState('networkidle', { timeout: 5_000 }).catch(() => {})
        await expect(page.locator('[aria-busy="true"]')).toHaveCount(0)
        await expectAccessible(page, `${path} (${scheme})`)
        await screenshot(page, testInfo, `${name}-${scheme}`)
      }
    })
  }
})
