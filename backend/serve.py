"""The HTTP server of `make run`: waitress in front of create_app().

    python -m backend.serve --host 127.0.0.1 --port 5000 --threads 4

Why waitress and not gunicorn's sync workers: a sync worker reads the request itself, so four
sockets that trickle one header line every few seconds held every worker and locked everyone
out (issue 14); gunicorn's documentation asks for a buffering proxy in front of sync workers,
and its gthread workers also read headers in a pool thread, with no deadline. waitress reads
every request (headers and body) and writes every answer on one asynchronous loop and hands a
thread only a complete, buffered request: a slow client costs a socket, never a thread. Plain
threads, no monkey-patching, so SQLAlchemy, psycopg and ai-edge-litert run as under the tests.
What a reverse proxy adds on top (TLS, a total header deadline, limits per address) is in
docs/backend.md."""

import argparse
import logging
import sys
import time

from waitress import serve

from backend import create_app

log = logging.getLogger("hematovision.access")

CHANNEL_TIMEOUT = 30  # seconds without a byte either way before a connection is closed
CONNECTION_LIMIT = 1000  # open sockets at once; each idle or slow one costs only a descriptor
MAX_HEADER_BYTES = 32 * 1024  # request line + every header field (a JWT is ~400 bytes)


def server_options(app, threads: int, channel_timeout: int = CHANNEL_TIMEOUT) -> dict:
    return {
        "threads": threads,
        "channel_timeout": channel_timeout,
        # how often idle connections are looked for: a stalled one is closed within
        # channel_timeout + this
        "cleanup_interval": max(1, min(10, channel_timeout // 3)),
        "connection_limit": CONNECTION_LIMIT,
        "asyncore_use_poll": True,  # select() stops at 1024 descriptors
        "max_request_header_size": MAX_HEADER_BYTES,
        # Bodies are buffered (to a temp file above 512 kB) before the app sees them; the app
        # answers its own JSON 413 above MAX_CONTENT_LENGTH, waitress stops spooling past this.
        "max_request_body_size": app.config["MAX_CONTENT_LENGTH"] + 1024 * 1024,
        "ident": "hematovision",
    }


def access_log(wsgi_app):
    """One line per request (gunicorn's --access-logfile did this before): client, method,
    path without the query, status, Content-Length, seconds to the headers. The body passes
    through untouched, so waitress still sends files with its file wrapper and closes them.
    Control characters are escaped."""

    def app(environ, start_response):
        start, seen = time.perf_counter(), {}

        def keep_status(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            seen["length"] = next((v for k, v in headers if k.lower() == "content-length"), "-")
            return start_response(status, headers, exc_info)

        body = wsgi_app(environ, keep_status)
        log.info(
            '%s "%s %s" %s %s %.3fs',
            environ.get("REMOTE_ADDR", "-"),
            _printable(environ.get("REQUEST_METHOD", "")),
            _printable(environ.get("PATH_INFO", "")),
            seen.get("status", "-"),
            seen.get("length", "-"),
            time.perf_counter() - start,
        )
        return body

    return app


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:500])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--threads", type=int, default=4, help="requests handled at once")
    parser.add_argument("--channel-timeout", type=int, default=CHANNEL_TIMEOUT)
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    if args.no_access_log:
        log.setLevel(logging.WARNING)
    app = create_app()
    options = server_options(app, args.threads, args.channel_timeout)
    serve(access_log(app), host=args.host, port=args.port, **options)


if __name__ == "__main__":
    main()
