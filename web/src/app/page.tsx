'use client'

// The root: the overview when signed in, else the sign-in page.

import { useRouter } from 'next/navigation'
import { useEffect } from 'react'
import { useBoot } from '@/components/AppProvider'
import { BootError, Loading } from '@/components/Shell'

export default function Home() {
  const boot = useBoot()
  const router = useRouter()
  useEffect(() => {
    if (boot.state === 'ready') router.replace(boot.session ? '/portfolios/' : '/sign-in/')
  }, [boot, router])
  return (
    <main className="main" id="main">
      {boot.state === 'error' ? (
        <>
          <h1>Portfolio Tracker</h1>
          <BootError />
        </>
      ) : (
        <Loading label="Portfolio Tracker" heading />
      )}
    </main>
  )
}
