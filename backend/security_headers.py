"""Headers on every response, and the app shell's Content-Security-Policy.

The dashboard sets its own CSP and no-store rules (backend/dashboard/access.py); what is here
is the floor under every blueprint."""

from flask import Flask, request

# The PWA shell (index.html, its modules, the service worker, the inference worker): its own
# scripts only; 'wasm-unsafe-eval' lets LiteRT.js compile its WASM (no JS eval); images are
# object URLs of the crops kept in IndexedDB; it talks only to this server.
SHELL_CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "worker-src 'self'",
        "connect-src 'self'",
        "img-src 'self' blob:",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
HSTS = "max-age=31536000"  # one year; only on HTTPS, where a browser honours it


def init_app(app: Flask) -> None:
    app.after_request(_every_response)


def shell_headers(response):
    response.headers["Content-Security-Policy"] = SHELL_CSP
    response.headers["X-Frame-Options"] = "DENY"  # frame-ancestors for older browsers
    # Cross-origin isolation: SharedArrayBuffer, so that LiteRT.js runs a model on several
    # threads (a field photo holds 100+ red cells). The shell loads nothing from another origin;
    # the service worker and the inference worker need the headers as much as the page does.
    response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
    response.headers["Cross-Origin-Embedder-Policy"] = "require-corp"
    return response


def _every_response(response):
    headers = response.headers
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    # JSON answers carry account data, tokens or errors about them: never kept by a browser or
    # a shared cache. Public model files say otherwise themselves (immutable).
    if response.is_json and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    # request.is_secure follows X-Forwarded-Proto only from the PROXY_COUNT trusted proxies.
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
