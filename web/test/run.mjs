// Bundles each test/*.test.ts with esbuild into a temporary directory and runs them with `node --test`.
import { build } from "esbuild";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const here = new URL(".", import.meta.url).pathname;
const tests = readdirSync(here).filter((name) => name.endsWith(".test.ts"));
const out = mkdtempSync(join(tmpdir(), "avatar-studio-web-tests-"));
try {
  await build({
    entryPoints: tests.map((name) => join(here, name)),
    outdir: out,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    // The avatar SDKs ship ES modules for bundlers next to CommonJS builds esbuild cannot import by default.
    mainFields: ["module", "main"],
    format: "esm",
    target: "node20",
    loader: { ".css": "text" },
    logLevel: "warning",
  });
  const files = readdirSync(out).map((name) => join(out, name));
  const result = spawnSync(process.execPath, ["--test", ...files], { stdio: "inherit" });
  process.exitCode = result.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
