'use client'

// Dark mode follows prefers-color-scheme until the person picks one; the choice is kept in
// localStorage and set as data-theme on <html>.

import { useEffect, useState } from 'react'

type Theme = 'light' | 'dark'
const KEY = 'pt-theme'

function systemTheme(): Theme {
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

export function ThemeToggle() {
  const [theme, setTheme] = useState<Theme | null>(null)
  useEffect(() => {
    const saved = localStorage.getItem(KEY)
    const t: Theme = saved === 'dark' || saved === 'light' ? saved : systemTheme()
    document.documentElement.dataset.theme = t
    // eslint-disable-next-line react-hooks/set-state-in-effect -- the theme is only known in the browser
    setTheme(t)
  }, [])
  const toggle = () => {
    const next: Theme = theme === 'dark' ? 'light' : 'dark'
    localStorage.setItem(KEY, next)
    document.documentElement.dataset.theme = next
    setTheme(next)
  }
  return (
    <button type="button" className="btn-quiet" onClick={toggle} aria-pressed={theme === 'dark'} aria-label="Dark mode">
      {theme === 'dark' ? '☾' : '☀'}
    </button>
  )
}
