import { defineConfig } from "vite";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// The build goes straight into the Go package that embeds it.
export default defineConfig({
  plugins: [svelte()],
  build: {
    outDir: "../internal/surface/web/dist",
    emptyOutDir: true,
    // No inline polyfill script: the CSP forbids inline scripts.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 700,
    sourcemap: false,
  },
  server: {
    proxy: {
      "/api": "http://localhost:8080",
      "/auth": "http://localhost:8080",
      "/servers": "http://localhost:8080",
      "/channels": "http://localhost:8080",
      "/messages": "http://localhost:8080",
      "/users": "http://localhost:8080",
      "/invites": "http://localhost:8080",
      "/hls": "http://localhost:8080",
      "/ws": { target: "ws://localhost:8080", ws: true },
    },
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
