// Prints the first-load JavaScript of exported pages: the scripts each page's HTML loads
// (module scripts and script preloads; the nomodule polyfills only old browsers fetch are left
// out), raw and gzip-compressed. Usage: node scripts/first-load.mjs [/portfolio/ ...]
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'

const out = new URL('../out/', import.meta.url).pathname
const pages = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['/', '/portfolios/', '/portfolio/', '/portfolio/transactions/', '/alerts/', '/settings/', '/sign-in/']
for (const page of pages) {
  const html = readFileSync(join(out, page, 'index.html'), 'utf8')
  const srcs = new Set()
  for (const m of html.matchAll(/<script\b([^>]*)>/g)) {
    const attrs = m[1] ?? ''
    const src = /\bsrc="([^"]+\.js)"/.exec(attrs)?.[1]
    if (src && !/\bnoModule\b/i.test(attrs)) srcs.add(src)
  }
  for (const m of html.matchAll(/<link\b([^>]*)>/g)) {
    const attrs = m[1] ?? ''
    const href = /\bhref="([^"]+\.js)"/.exec(attrs)?.[1]
    if (href && /\bas="script"/.test(attrs)) srcs.add(href)
  }
  let raw = 0
  let gz = 0
  for (const src of srcs) {
    const body = readFileSync(join(out, src.replace(/^\//, '')))
    raw += body.length
    gz += gzipSync(body, { level: 9 }).length
  }
  console.log(`${page.padEnd(26)} ${String(srcs.size).padStart(2)} scripts  ${(raw / 1024).toFixed(1).padStart(7)} KB raw  ${(gz / 1024).toFixed(1).padStart(6)} KB gzip`)
}
