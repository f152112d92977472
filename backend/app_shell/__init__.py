"""The PWA's app shell: index.html, the service worker, the manifest, scripts and the runtime."""

from flask import Blueprint

from backend.security_headers import shell_headers

bp = Blueprint("app_shell", __name__)
bp.after_request(shell_headers)  # the shell's CSP and no framing, on every file it serves

from backend.app_shell import routes  # noqa: E402,F401  (registers the views on bp)
