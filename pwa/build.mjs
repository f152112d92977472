// Builds pwa/vendor/ (git-ignored) from node_modules: the inference worker bundled with LiteRT.js
// as one classic script (LiteRT.js loads its WASM glue with importScripts, which module workers
// lack), and the two LiteRT.js WASM builds the app uses, precompressed so that Flask can serve
// them as-is. Run by `npm run build` (the Makefile's `setup` does it after `npm ci`).
import { build } from "esbuild";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, sep } from "node:path";
import { createHash } from "node:crypto";

const here = new URL(".", import.meta.url).pathname;
const vendor = join(here, "vendor");
const wasmSrc = join(here, "node_modules/@litertjs/core/wasm");
// The threaded relaxed-SIMD build where the app is cross-origin isolated (the server sends
// COOP/COEP), the single-thread one where it is not, and the compat build for browsers without
// relaxed SIMD (Safari). The service worker precaches the one this browser will run.
const WASM_BUILDS = ["litert_wasm_threaded_internal", "litert_wasm_internal", "litert_wasm_compat_internal"];

function compress(path) {
  const data = readFileSync(path);
  writeFileSync(path + ".gz", gzipSync(data, { level: 9 }));
  const params = { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_SIZE_HINT]: data.length };
  writeFileSync(path + ".br", brotliCompressSync(data, { params }));
}

// The WASM files are kept between builds (compressing 2 x 9 MB with brotli 11 takes a minute);
// they are recopied when the installed LiteRT.js differs.
for (const entry of existsSync(vendor) ? readdirSync(vendor) : []) {
  if (entry !== "wasm") rmSync(join(vendor, entry), { recursive: true, force: true });
}
mkdirSync(join(vendor, "wasm"), { recursive: true });

await build({
  entryPoints: [join(here, "js/classifier/inference-worker.js")],
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  legalComments: "eof",
  outfile: join(vendor, "inference-worker.js"),
});

// Subfolders too (js/ui/, js/classifier/cells/, ...): a module left out of the precache would
// break the app offline.
function listFiles(dir, prefix) {
  const root = join(here, dir);
  return readdirSync(root, { recursive: true })
    .filter((name) => !basename(name).startsWith(".") && statSync(join(root, name)).isFile())
    .map((name) => `${prefix}/${name.split(sep).join("/")}`)
    .sort();
}
// The app version is a hash of every file of the app shell: any change makes a new service
// worker, which the page offers as "Update available — reload".
const shellFiles = [
  "/",
  "/manifest.json",
  ...listFiles("js", "/js").filter((f) => f !== "/js/classifier/inference-worker.js"),
  ...listFiles("css", "/css"),
  ...listFiles("icons", "/icons"),
  // The catalogues of every language: a language switch must work offline, and a changed
  // catalogue is a new app version like any other file.
  ...listFiles("locales", "/locales"),
  "/vendor/inference-worker.js",
];
const sourceOf = (url) =>
  url === "/" ? join(here, "index.html") : url === "/manifest.json" ? join(here, "../manifest.json") : join(here, url);
const hash = createHash("sha256");
for (const url of shellFiles) hash.update(url).update(readFileSync(sourceOf(url)));
hash.update(readFileSync(join(here, "sw.js")));
const appVersion = hash.digest("hex").slice(0, 12);
const runtimeVersion = JSON.parse(readFileSync(join(here, "node_modules/@litertjs/core/package.json"))).version;

await build({
  entryPoints: [join(here, "sw.js")],
  bundle: true,
  format: "iife",
  target: "es2020",
  minify: true,
  legalComments: "eof",
  define: {
    __APP_VERSION__: JSON.stringify(appVersion),
    __RUNTIME_VERSION__: JSON.stringify(runtimeVersion),
    __SHELL_FILES__: JSON.stringify(shellFiles),
  },
  outfile: join(vendor, "sw.js"),
});
writeFileSync(join(vendor, "version.json"), JSON.stringify({ appVersion, runtimeVersion, shellFiles }, null, 1));

function sameFile(a, b) {
  return existsSync(b) && existsSync(b + ".br") && readFileSync(a).equals(readFileSync(b));
}
for (const name of WASM_BUILDS) {
  for (const ext of [".js", ".wasm"]) {
    const from = join(wasmSrc, name + ext);
    const to = join(vendor, "wasm", name + ext);
    if (!sameFile(from, to)) {
      copyFileSync(from, to);
      compress(to);
    }
  }
}

for (const file of ["inference-worker.js", "sw.js"]) compress(join(vendor, file));
console.log(`pwa/vendor built: app ${appVersion}, LiteRT.js ${runtimeVersion}`);
