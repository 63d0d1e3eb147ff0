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

export default function ValueChart({ lines, percent, label }: { lines: ChartLine[]; percent: boolean; label: string }) {
  const el = useRef<HTMLDivElement>(null)
  useEffect(() => {
    const node = el.current
    if (!node) return
    let dispose: (() => void) | undefined
    let cancelled = false
    void import('lightweight-charts').then(({ createChart, AreaSeries, LineSeries }) => {
      if (cancelled) return
      const text = cssVar('--text', '#15171a')
      const border = cssVar('--border', '#d5d9e0')
      const accent = cssVar('--accent', '#1f5fd1')
      const chart = createChart(node, {
        autoSize: true,
        layout: { background: { color: 'transparent' }, textColor: text, attributionLogo: false },
        grid: { vertLines: { color: border }, horzLines: { color: border } },
        rightPriceScale: { borderColor: border },
        timeScale: { borderColor: border },
        localization: percent ? { priceFormatter: (v: number) => `${v.toFixed(1)}%` } : undefined,
      })
      for (const line of lines) {
        const data = line.points.map(([time, value]) => ({ time, value }))
        if (line.kind === 'main' && !percent) {
          chart.addSeries(AreaSeries, { lineColor: accent, topColor: `${accent}55`, bottomColor: `${accent}05`, lineWidth: 2 }).setData(data)
        } else if (line.kind === 'main') {
          chart.addSeries(LineSeries, { color: accent, lineWidth: 2 }).setData(data)
        } else {
          chart.addSeries(LineSeries, { color: cssVar('--muted', '#575f6b'), lineWidth: 1, lineStyle: 2 }).setData(data)
        }
      }
      chart.timeScale().fitContent()
      dispose = () => chart.remove()
    })
    return () => {
      cancelled = true
      dispose?.()
    }
  }, [lines, percent])
  return <div ref={el} className="chart" role="img" aria-label={label} />
}
