import type { NextConfig } from 'next'

// A static export (web/out): no server runs the app. S3 + CloudFront serve it in AWS, the
// local stack on :5173 locally; the API, WebSocket and Auth URLs come from /config.json at
// run time, so one build serves every stage.
const nextConfig: NextConfig = {
  output: 'export',
  trailingSlash: true,
  images: { unoptimized: true },
  reactStrictMode: true,
  poweredByHeader: false,
}

export default nextConfig
