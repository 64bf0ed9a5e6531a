import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";

const common = { bundle: true, minify: true, target: "es2022", sourcemap: true, logLevel: "warning", loader: { ".css": "text" } };

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/studio", { recursive: true });
cpSync("src/index.html", "dist/index.html");
cpSync("src/studio/index.html", "dist/studio/index.html");
cpSync("src/studio/studio.css", "dist/studio/studio.css");
cpSync("src/widget/widget-demo.html", "dist/widget-demo.html");

// Studio and the widget's conversation share lib/ and the adapters through hashed chunks.
await build({
  ...common,
  entryPoints: { "studio/studio": "src/studio/main.ts", "chunks/widget-app": "src/widget/app.ts" },
  outdir: "dist",
  format: "esm",
  splitting: true,
  chunkNames: "chunks/[name]-[hash]",
});

// The loader is a classic script (sites embed it without type="module"), so it is one self-contained file.
await build({ ...common, entryPoints: ["src/widget/loader.ts"], outfile: "dist/widget.js", format: "iife" });
