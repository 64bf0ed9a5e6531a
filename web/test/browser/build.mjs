// Bundles the adapter test page (harness.ts) into one script, with each avatar SDK swapped for its stub.
// Usage: node test/browser/build.mjs OUTFILE
import { build } from "esbuild";

const here = new URL(".", import.meta.url).pathname;
const [outfile] = process.argv.slice(2);
if (!outfile) throw new Error("usage: node test/browser/build.mjs OUTFILE");

await build({
  entryPoints: [`${here}harness.ts`],
  outfile,
  bundle: true,
  format: "iife",
  target: "es2022",
  loader: { ".css": "text" },
  logLevel: "warning",
  alias: {
    "@heygen/streaming-avatar": `${here}stubs/streaming-avatar.ts`,
    "@heygen/liveavatar-web-sdk": `${here}stubs/liveavatar.ts`,
    "simli-client": `${here}stubs/simli.ts`,
    "@daily-co/daily-js": `${here}stubs/daily.ts`,
  },
});
