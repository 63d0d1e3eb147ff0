'use client'

// useLoad runs an async read and tracks its loading, error and data; reload runs it again.

import { useCallback, useEffect, useRef, useState } from 'react'
import { friendlyError } from './api'

export interface Loaded<T> {
  data: T | undefined
  error: string | null
  loading: boolean
  reload: () => void
}

export function useLoad<T>(load: (() => Promise<T>) | null, deps: readonly unknown[]): Loaded<T> {
  const [data, setData] = useState<T | undefined>(undefined)
  const [error, setError] = useState<string | null>(null)
  const [loading, setLoading] = useState(true)
  const [tick, setTick] = useState(0)
  const loadRef = useRef(load)
  useEffect(() => {
    loadRef.current = load
  })
  useEffect(() => {
    const fn = loadRef.current
    if (!fn) return
    let cancelled = false
    setLoading(true)
    fn().then(
      (d) => {
        if (cancelled) return
        setData(d)
        setError(null)
        setLoading(false)
      },
      (e: unknown) => {
        if (cancelled) return
        setError(friendlyError(e))
        setLoading(false)
      },
    )
    return () => {
      cancelled = true
    }
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [...deps, tick])
  const reload = useCallback(() => setTick((t) => t + 1), [])
  return { data, error, loading, reload }
}
