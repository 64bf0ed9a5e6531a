import { build } from "esbuild";
import { cpSync, mkdirSync } from "node:fs";

mkdirSync("dist/studio", { recursive: true });
cpSync("src/studio/index.html", "dist/studio/index.html");
cpSync("src/index.html", "dist/index.html");
await build({
  entryPoints: { "studio/studio": "src/studio/main.ts" },
  outdir: "dist",
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2022",
  sourcemap: true,
  logLevel: "info",
});
