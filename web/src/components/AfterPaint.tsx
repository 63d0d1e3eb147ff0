'use client'

// AfterPaint renders its children only after the browser painted what was rendered with it:
// a page's first frame (a portfolio's header with its value) does not wait for the style,
// layout and paint of the heavier parts below it, which follow a frame later. Until then it
// is an empty busy placeholder, so nothing (a test either) takes the page for fully loaded.

import { useEffect, useState, type ReactNode } from 'react'

export function AfterPaint({ children }: { children: ReactNode }) {
  const [shown, setShown] = useState(false)
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined
    // A frame callback runs before that frame's paint; a task queued from it runs after it.
    const frame = requestAnimationFrame(() => {
      timer = setTimeout(() => setShown(true), 0)
    })
    return () => {
      cancelAnimationFrame(frame)
      if (timer !== undefined) clearTimeout(timer)
    }
  }, [])
  return shown ? children : <div aria-busy="true" />
}
