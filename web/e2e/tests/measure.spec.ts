import { expect, test } from '@playwright/test'
import { writeFileSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { demo, demoPortfolioId, signIn, stack } from './support'
import { kb, largestContentfulPaint, liveValue, liveValueProbe, percentile, recordScripts } from './measure'

// BENCHMARKS.md's web figures (`make web-bench`, desktop project only, on a quiet machine): first-load JS of
// /portfolio/ gzipped, its largest contentful paint against the local stack, and a price tick's way from the
// WebSocket frame to the value's text in the DOM. Each is printed and written to .local/web-bench.txt.
test.describe('@measure web figures', () => {
  test.describe.configure({ timeout: 720_000 })
  const lines: string[] = []
  test.afterAll(() => {
    mkdirSync(stack.out, { recursive: true })
    writeFileSync(join(stack.out, 'web-bench.txt'), lines.join('\n') + '\n')
  })
  const report = (line: string): void => {
    lines.push(line)
    console.log(line)
  }

  test('first-load JS and LCP of /portfolio/', async ({ browser, request }) => {
    const id = await demoPortfolioId(request)
    const setup = await browser.newContext()
    await signIn(await setup.newPage(), demo)
    const state = await setup.storageState()
    await setup.close()

    const runs = 7
    const lcps: number[] = []
    let element = ''
    for (let i = 0; i < runs; i++) {
      // A cold cache every time: a new context is a new profile.
      const ctx = await browser.newContext({ storageState: state })
      const page = await ctx.newPage()
      const rec = recordScripts(page)
      await page.goto(`/portfolio/?id=${id}`, { waitUntil: 'load' })
      await Promise.all(rec.done)
      const firstLoad = [...rec.scripts]
      await expect(page.getByTestId('portfolio-value')).toBeVisible()
      await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => {})
      await Promise.all(rec.done)
      const lcp = await largestContentfulPaint(page)
      lcps.push(lcp.ms)
      element = lcp.element
      if (i === 0) {
        const sum = (xs: typeof firstLoad, k: 'bytes' | 'gzip'): number => xs.reduce((a, s) => a + s[k], 0)
        report(`first-load JS of /portfolio/ (scripts fetched by the load event): ${firstLoad.length} files, ${kb(sum(firstLoad, 'bytes'))} raw, ${kb(sum(firstLoad, 'gzip'))} gzip -9`)
        const later = rec.scripts.filter((s) => !firstLoad.includes(s))
        report(`  loaded after it (dynamic imports, e.g. the chart): ${later.length} files, ${kb(sum(later, 'gzip'))} gzip -9`)
        for (const s of [...firstLoad].sort((a, b) => b.gzip - a.gzip).slice(0, 6)) report(`    ${kb(s.gzip).padStart(9)}  ${s.url}`)
        expect(sum(firstLoad, 'gzip'), 'first-load JS of /portfolio/ ≤ 200 KB gzip').toBeLessThanOrEqual(200 * 1024)
      }
      await ctx.close()
    }
    const sorted = [...lcps].sort((a, b) => a - b)
    report(`LCP of /portfolio/ (signed in, cold cache, ${runs} loads): median ${percentile(sorted, 50).toFixed(0)} ms, max ${sorted[sorted.length - 1]!.toFixed(0)} ms (element: ${element})`)
  })

  test('tick to DOM', async ({ browser, request }) => {
    const id = await demoPortfolioId(request)
    const ctx = await browser.newContext()
    const page = await ctx.newPage()
    await page.addInitScript(liveValueProbe)
    await signIn(page, demo)
    await page.goto(`/portfolio/?id=${id}`)
    await expect(page.getByTestId('portfolio-value')).toBeVisible()
    // Alice holds six of the simulated symbols, each moving every 20-100 s: about one change every 10-20 s.
    const want = 20
    await expect.poll(async () => (await liveValue(page)).changes.length, { timeout: 600_000, intervals: [5_000] }).toBeGreaterThanOrEqual(want)
    const probe = await liveValue(page)
    // The first change may be the first pushed valuation replacing the positions' total: not a tick.
    const changes = probe.changes.slice(1).filter((c) => c.sinceMessage < 1000)
    const dom = changes.map((c) => c.sinceMessage).sort((a, b) => a - b)
    const feed = changes.flatMap((c) => (c.sinceTick === null ? [] : [c.sinceTick])).sort((a, b) => a - b)
    report(
      `tick → DOM (WebSocket message received → the value's text changed), ${dom.length} changes over ${probe.messages} price/valuation messages: ` +
        `p50 ${percentile(dom, 50).toFixed(1)} ms, p99 ${percentile(dom, 99).toFixed(1)} ms, max ${dom[dom.length - 1]!.toFixed(1)} ms`,
    )
    report(
      `feed → screen (the simulated quote's time → the value's text changed; includes up to 1 s until the feed's next poll), ${feed.length} changes: ` +
        `p50 ${percentile(feed, 50).toFixed(0)} ms, p99 ${percentile(feed, 99).toFixed(0)} ms`,
    )
    await ctx.close()
  })
})
