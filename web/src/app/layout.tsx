import type { Metadata, Viewport } from 'next'
import type { ReactNode } from 'react'
import { AppProvider } from '@/components/AppProvider'
import './globals.css'

export const metadata: Metadata = {
  title: 'Portfolio Tracker',
  description: 'Your investments, live.',
}

export const viewport: Viewport = {
  width: 'device-width',
  initialScale: 1,
  colorScheme: 'light dark',
}

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a href="#main" className="skip">
          Skip to content
        </a>
        <AppProvider>{children}</AppProvider>
      </body>
    </html>
  )
}
