'use client'

// The value history chart. lightweight-charts is loaded with a dynamic import, so it is not in
// the page's first-load JavaScript; the chart draws once it arrives. Values are the history's
// decimal strings as numbers: fine for drawing, never used for money. With a benchmark the
// chart compares returns (percent from the range's first day) instead of values.

import { useEffect, useRef } from 'react'

export interface ChartLine {
  /** [date, value] in date order */
  points: [string, number][]
  kind: 'main' | 'benchmark'
}

function cssVar(name: string, fallback: string): string {
  if (typeof window === 'undefined') return fallback
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback
}

interface ThemeColors {
  text: string
  border: string
  accent: string
  muted: string
}

function themeColors(): ThemeColors {
  return {
    text: cssVar('--text', '#15171a'),
    border: cssVar('--border', '#d5d9e0'),
    accent: cssVar('--accent', '#1f5fd1'),
    muted: cssVar('--muted', '#575f6b'),
  }
}

function frameOptions(c: ThemeColors) {
  return {
    grid: { vertLines: { color: c.border }, horzLines: { color: c.border } },
    rightPriceScale: { borderColor: c.border },
    timeScale: { borderColor: c.border },
  }
}

function areaColors(c: ThemeColors) {
  return { lineColor: c.accent, topColor: `${c.accent}55`, bottomColor: `${c.accent}05` }
}

export default function ValueChart({ lines, percent, label }: { lines: ChartLine[]; percent: boolean; label: string }) {
  const el = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const node = el.current
    if (!node) return
    let dispose: (() => void) | undefined
    let cancelled = false
    void import('lightweight-charts').then(({ createChart, AreaSeries, LineSeries }) => {
      if (cancelled) return
      const colors = themeColors()
      const chart = createChart(node, {
        autoSize: true,
        layout: { background: { color: 'transparent' }, textColor: colors.text, attributionLogo: false },
        localization: percent ? { priceFormatter: (v: number) => `${v.toFixed(1)}%` } : undefined,
        ...frameOptions(colors),
      })
      const series = lines.map((line) => {
        const data = line.points.map(([time, value]) => ({ time, value }))
        const s =
          line.kind === 'main' && !percent
            ? chart.addSeries(AreaSeries, { lineWidth: 2, ...areaColors(colors) })
            : line.kind === 'main'
              ? chart.addSeries(LineSeries, { color: colors.accent, lineWidth: 2 })
              : chart.addSeries(LineSeries, { color: colors.muted, lineWidth: 1, lineStyle: 2 })
        s.setData(data)
        return { line, s }
      })
      chart.timeScale().fitContent()
      // The colours are the theme's CSS variables, read when drawing: follow a switch of the
      // theme (the toggle's data-theme, or the system's scheme) without drawing anew.
      const recolour = () => {
        const c = themeColors()
        chart.applyOptions({ layout: { textColor: c.text }, ...frameOptions(c) })
        for (const { line, s } of series) {
          if (line.kind === 'main' && !percent) s.applyOptions(areaColors(c))
          else s.applyOptions({ color: line.kind === 'main' ? c.accent : c.muted })
        }
      }
      const themeObserver = new MutationObserver(recolour)
      themeObserver.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] })
      const scheme = window.matchMedia?.('(prefers-color-scheme: dark)')
      scheme?.addEventListener('change', recolour)
      dispose = () => {
        themeObserver.disconnect()
        scheme?.removeEventListener('change', recolour)
        chart.remove()
      }
    })
    return () => {
      cancelled = true
      dispose?.()
    }
  }, [lines, percent])
  return <div ref={el} className="chart" role="img" aria-label={label} />
}
