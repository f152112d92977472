"""Runs the JavaScript cell finder (pwa/js/classifier/cells/) in headless Chromium.

Used by the Python-browser parity test and by `make bench-finder`. Photos are fetched and
decoded by the browser itself (createImageBitmap -> OffscreenCanvas -> ImageData), inside a
module Web Worker, the way the PWA's worker will. Serves files on an ephemeral port of
127.0.0.1. Needs Python Playwright and Debian's chromium (CHROMIUM env var to override).
"""

import functools
import http.server
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path

from bench.chromium import CHROMIUM, CHROMIUM_ARGS

PWA_JS = Path(__file__).resolve().parents[1] / "pwa" / "js"

WORKER = """
import { survey } from '/js/classifier/cells/finder.js';
import { frameSquare } from '/js/classifier/cells/framing.js';

async function pixels(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  const bitmap = await createImageBitmap(await response.blob(),
    { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const context = canvas.getContext('2d', { willReadFrequently: true });
  context.drawImage(bitmap, 0, 0);
  return context.getImageData(0, 0, bitmap.width, bitmap.height);
}

// {url, repeats}: the survey of a photo (cells, D) and `repeats` timings of it;
// {url, square: [cx, cy, side, size]}: frameSquare's RGBA bytes for that photo.
self.onmessage = async (event) => {
  const { id, url, repeats, square } = event.data;
  try {
    const image = await pixels(url);
    if (square) {
      self.postMessage({ id, result: Array.from(frameSquare(image, ...square).data) });
      return;
    }
    let found = survey(image);
    const times = [];
    for (let i = 0; i < repeats; i++) {
      const start = performance.now();
      found = survey(image);
      times.push(performance.now() - start);
    }
    const { width, height } = image;
    self.postMessage({ id, result: { ...found, times, width, height } });
  } catch (error) {
    self.postMessage({ id, error: String(error) });
  }
};
"""

PAGE = """<!doctype html><meta charset="utf-8"><title>cell finder</title>
<script type="module">
const worker = new Worker('/worker.js', { type: 'module' });
const waiting = new Map();
let next = 0;
worker.onmessage = (event) => {
  const { id, result, error } = event.data;
  const [resolve, reject] = waiting.get(id);
  waiting.delete(id);
  if (error) reject(new Error(error)); else resolve(result);
};
const ask = (message) => new Promise((resolve, reject) => {
  const id = next++;
  waiting.set(id, [resolve, reject]);
  worker.postMessage({ id, ...message });
});
window.findInWorker = (url, repeats = 0) => ask({ url, repeats });
window.frameInWorker = (url, square) => ask({ url, square });
// Runs findCells on a tiny image in the page itself: the error a caller would see.
window.errorForTinyImage = async () => {
  const { findCells } = await import('/js/classifier/cells/finder.js');
  try {
    findCells({ data: new Uint8ClampedArray(4 * 4 * 4), width: 4, height: 4 });
    return null;
  } catch (error) {
    return `${error.name}: ${error.message}`;
  }
};
window.ready = true;
</script>"""


class _Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, photos: dict[str, Path], **kwargs):
        self.photos = photos
        super().__init__(*args, directory=str(PWA_JS), **kwargs)

    def do_GET(self):
        if self.path in ("/", "/worker.js"):
            body = (PAGE if self.path == "/" else WORKER).encode()
            kind = "text/html" if self.path == "/" else "text/javascript"
            return self._send(body, kind)
        if self.path.startswith("/photos/") and self.path[8:] in self.photos:
            return self._send(self.photos[self.path[8:]].read_bytes(), "application/octet-stream")
        if self.path.startswith("/js/"):
            self.path = self.path[3:]
            return super().do_GET()
        self.send_error(404)

    def _send(self, body: bytes, kind: str):
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def guess_type(self, path):
        return "text/javascript" if str(path).endswith(".js") else super().guess_type(path)

    def log_message(self, *args):
        pass


@contextmanager
def browser_finder(photos: list[Path]):
    """Yields find(photo, repeats=0) -> {"cells", "diameter", "times", "width", "height"} from
    Chromium (survey's cells and D); find.frame(photo, cx, cy, side, size) -> frameSquare's
    (size, size, 4) RGBA bytes as a flat list."""
    from playwright.sync_api import sync_playwright

    names = {f"{i}{Path(p).suffix}": Path(p) for i, p in enumerate(photos)}
    by_path = {Path(p): name for name, p in names.items()}
    handler = functools.partial(_Handler, photos=names)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                args=CHROMIUM_ARGS,
                headless=True,
            )
            try:
                page = context.new_page()
                page.goto(base + "/")
                page.wait_for_function("() => window.ready === true")

                def find(photo: Path, repeats: int = 0) -> dict:
                    url = f"/photos/{by_path[Path(photo)]}"
                    return page.evaluate("([u, r]) => window.findInWorker(u, r)", [url, repeats])

                def frame(photo: Path, cx: float, cy: float, side: float, size: int) -> list:
                    url = f"/photos/{by_path[Path(photo)]}"
                    square = [cx, cy, side, size]
                    return page.evaluate("([u, s]) => window.frameInWorker(u, s)", [url, square])

                find.page = page
                find.frame = frame
                yield find
            finally:
                context.close()
    finally:
        server.shutdown()
        server.server_close()
