// Builds the web console (ui/) into dist/ui/: one minified ES module bundle, its stylesheet and
// page. Prints the bundle's size, raw and gzipped (the size target is in docs/console.md).
//   node scripts/build-ui.mjs [outdir]
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const src = new URL('../ui/', import.meta.url);
const out = new URL(process.argv[2] ? `file://${process.argv[2].replace(/\/?$/, '/')}` : '../dist/ui/', import.meta.url);
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [new URL('main.tsx', src).pathname],
  outfile: new URL('app.js', out).pathname,
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2022',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
copyFileSync(new URL('index.html', src), new URL('index.html', out));
// The chart library's stylesheet, then the console's own: one file, served by the process.
const uplotCss = readFileSync(new URL('../node_modules/uplot/dist/uPlot.min.css', import.meta.url), 'utf8');
writeFileSync(new URL('app.css', out), `${uplotCss}\n${readFileSync(new URL('app.css', src), 'utf8')}`);
const sizes = ['app.js', 'app.css', 'index.html'].map((f) => {
  const bytes = readFileSync(new URL(f, out));
  return { f, raw: bytes.length, gz: gzipSync(bytes).length };
});
const total = sizes.reduce((s, x) => s + x.gz, 0);
console.log(`console: ${sizes.map((s) => `${s.f} ${s.raw} B (${s.gz} B gzipped)`).join(', ')}; ${total} B gzipped in all`);
