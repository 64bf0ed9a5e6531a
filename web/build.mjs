import { build } from "esbuild";
import { cpSync, mkdirSync, rmSync } from "node:fs";

const common = { bundle: true, minify: true, target: "es2022", sourcemap: true, logLevel: "warning", loader: { ".css": "text" } };

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/studio", { recursive: true });
cpSync("src/index.html", "dist/index.html");
cpSync("src/favicon.svg", "dist/favicon.svg");
cpSync("src/studio/index.html", "dist/studio/index.html");
cpSync("src/studio/studio.css", "dist/studio/studio.css");
cpSync("src/widget/widget-demo.html", "dist/widget-demo.html");
// Swagger UI for the local server's /docs, so the API documentation works offline (no CDN).
mkdirSync("dist/docs-assets");
for (const file of ["swagger-ui-bundle.js", "swagger-ui.css", "favicon-32x32.png", "LICENSE"]) {
  cpSync(`node_modules/swagger-ui-dist/${file}`, `dist/docs-assets/${file}`);
}

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
