import { defineConfig, devices } from '@playwright/test'

// The browser tests run against a local stack that the harness started (localstack/e2e/browser_test.go, run by
// `make test-web`, which `make test` runs): it passes the stack's URLs in the environment. One stack and one worker
// for everything: the machine is small and the journeys share nothing but the stack.
const webURL = process.env.PT_WEB_URL
if (!webURL) {
  throw new Error('PT_WEB_URL is not set: run the browser tests with `make test-web` (or `make screenshots`, `make web-bench`), which start a local stack for them')
}

// Debian's Chromium, not a downloaded one (`make chromium` installs it); Playwright's `channel` cannot select it.
const executablePath = process.env.PT_CHROMIUM || '/usr/bin/chromium'

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  fullyParallel: false,
  workers: 1,
  retries: 0,
  forbidOnly: true,
  timeout: 120_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  // The measurements run only when asked for (`make web-bench`): they need a quiet machine.
  grepInvert: process.env.PT_MEASURE ? undefined : /@measure/,
  use: {
    baseURL: webURL,
    // The app shows amounts in the browser's language until the profile's is known: the tests' expectations are en-US.
    locale: 'en-US',
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: { executablePath },
  },
  projects: [
    { name: 'desktop', use: { ...devices['Desktop Chrome'], viewport: { width: 1280, height: 800 }, launchOptions: { executablePath } } },
    {
      name: 'phone',
      // 390x844 (an iPhone 12-14's CSS pixels), touch, 2x (3x only makes the screenshots slower).
      use: { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, launchOptions: { executablePath } },
    },
  ],
})
