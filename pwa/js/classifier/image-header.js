// An image's width and height from its header bytes (PNG, JPEG, WebP, GIF), read before anything
// decodes it: a 400-megapixel photo would hang the phone for many seconds in createImageBitmap
// before any check could run. Refused above MAX_PIXELS, the server's PREDICT_MAX_PIXELS.
import { t } from "../i18n.js";

export const MAX_PIXELS = 40_000_000;
/** Above this the app says that reading the image takes a moment (a phone decodes ~10 Mpx/s). */
export const LARGE_PIXELS = 16_000_000;

export class ImageTooLargeError extends Error {
  constructor(width, height) {
    const mpx = ((width * height) / 1e6).toFixed(0);
    super(t("image.too_large", { width, height, mpx, max: MAX_PIXELS / 1e6 }));
    this.name = "ImageTooLargeError";
  }
}

async function bytesOf(blob, start, length) {
  return new DataView(await blob.slice(start, start + length).arrayBuffer());
}

const ascii = (view, at, n) => String.fromCharCode(...Array.from({ length: n }, (_, i) => view.getUint8(at + i)));

async function jpegSize(blob) {
  let offset = 2;
  while (offset + 9 < blob.size) {
    const head = await bytesOf(blob, offset, 9);
    if (head.getUint8(0) !== 0xff) return null;
    const marker = head.getUint8(1);
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
    if (marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker)) {
      return { height: head.getUint16(5), width: head.getUint16(7) };
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      offset += 2;
      continue;
    }
    offset += 2 + head.getUint16(2);
  }
  return null;
}

function webpSize(view) {
  const chunk = ascii(view, 12, 4);
  if (chunk === "VP8X") return { width: 1 + (view.getUint32(24, true) & 0xffffff), height: 1 + (view.getUint32(27, true) & 0xffffff) };
  if (chunk === "VP8L") {
    const bits = view.getUint32(21, true);
    return { width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
  }
  if (chunk === "VP8 ") return { width: view.getUint16(26, true) & 0x3fff, height: view.getUint16(28, true) & 0x3fff };
  return null;
}

/** {width, height} from the header, or null when the format is not recognised (then the
 * decoder decides: it reports an unreadable file its own way). */
export async function imageSize(blob) {
  if (blob.size < 30) return null;
  const view = await bytesOf(blob, 0, 32);
  if (view.getUint32(0) === 0x89504e47 && ascii(view, 12, 4) === "IHDR") {
    return { width: view.getUint32(16), height: view.getUint32(20) };
  }
  if (view.getUint16(0) === 0xffd8) return jpegSize(blob);
  if (ascii(view, 0, 4) === "RIFF" && ascii(view, 8, 4) === "WEBP") return webpSize(view);
  if (ascii(view, 0, 3) === "GIF") return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
  return null;
}

/** Throws ImageTooLargeError for an image above MAX_PIXELS; returns its size (or null). */
export async function checkImageSize(blob) {
  const size = await imageSize(blob);
  if (size && size.width * size.height > MAX_PIXELS) throw new ImageTooLargeError(size.width, size.height);
  return size;
}
