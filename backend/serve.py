"""The HTTP server of `make run`: waitress in front of create_app().

    python -m backend.serve --host 127.0.0.1 --port 5000 --threads 4

Why waitress and not gunicorn's sync workers: a sync worker reads the request itself, so four
sockets that trickle one header line every few seconds held every worker and locked everyone
out (issue 14); gunicorn's documentation asks for a buffering proxy in front of sync workers,
and its gthread workers also read headers in a pool thread, with no deadline. waitress reads
every request (headers and body) and writes every answer on one asynchronous loop and hands a
thread only a complete, buffered request: a slow client costs a socket, never a thread. Plain
threads, no monkey-patching, so SQLAlchemy, psycopg and ai-edge-litert run as under the tests.
waitress closes connections idle for channel_timeout; HeaderDeadlineServer also closes one whose
request headers are still incomplete header_timeout after their first byte, which a client
trickling a byte now and then cannot extend (nginx's client_header_timeout). What a reverse
proxy adds on top (TLS, limits per address) is in docs/backend.md."""

import argparse
import logging
import sys
import threading
import time

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer

from backend import create_app, db
from backend.storage import blobs

log = logging.getLogger("hematovision.access")
failures = logging.getLogger("hematovision")  # of the model cache: it only costs speed
WARM_EVERY = 30.0  # seconds between two checks for model versions not yet in the cache

CHANNEL_TIMEOUT = 30  # seconds without a byte either way before a connection is closed
HEADER_TIMEOUT = 20  # seconds from a request's first byte to the end of its headers
CONNECTION_LIMIT = 1000  # open sockets at once; each idle or slow one costs only a descriptor
MAX_HEADER_BYTES = 32 * 1024  # request line + every header field (a JWT is ~400 bytes)


class _TimedRequest(HTTPRequestParser):
    """A request being read; made when its first byte arrives."""

    def __init__(self, adj):
        super().__init__(adj)
        self.started = time.monotonic()


class _Channel(HTTPChannel):
    parser_class = _TimedRequest


class HeaderDeadlineServer(TcpWSGIServer):
    """waitress's TCP server (webtest subclasses it the same way) with a deadline on headers."""

    channel_class = _Channel
    header_timeout = HEADER_TIMEOUT

    def maintenance(self, now):
        super().maintenance(now)  # the idle ones
        late = time.monotonic() - self.header_timeout
        for channel in self.active_channels.values():
            request = channel.request
            if request is not None and not request.headers_finished and request.started < late:
                channel.will_close = True  # closed by the loop, like an idle one


def make_server(app, host: str, port: int, threads: int, channel_timeout: int = CHANNEL_TIMEOUT,
                header_timeout: int = HEADER_TIMEOUT) -> HeaderDeadlineServer:  # fmt: skip
    """The Flask `app` behind waitress, with the access log."""
    options = server_options(app, threads, channel_timeout, header_timeout)
    server = HeaderDeadlineServer(access_log(app), host=host, port=port, **options)
    server.header_timeout = header_timeout
    return server


def server_options(app, threads: int, channel_timeout: int, header_timeout: int) -> dict:
    return {
        "threads": threads,
        "channel_timeout": channel_timeout,
        # how often stalled connections are looked for: one is closed within its timeout + this
        "cleanup_interval": max(1, min(10, channel_timeout // 3, header_timeout // 3)),
        "connection_limit": CONNECTION_LIMIT,
        "asyncore_use_poll": True,  # select() stops at 1024 descriptors
        "max_request_header_size": MAX_HEADER_BYTES,
        # Bodies are buffered (to a temp file above 512 kB) before the app sees them; the app
        # answers its own JSON 413 above MAX_CONTENT_LENGTH, waitress stops spooling past this.
        "max_request_body_size": app.config["MAX_CONTENT_LENGTH"] + 1024 * 1024,
        "ident": "hematovision",
        # waitress 3 deletes X-Forwarded-* unless told otherwise; behind PROXY_COUNT trusted
        # proxies the app's ProxyFix reads them (the client's address, HTTPS) and ignores the
        # rest. Without a proxy they are still deleted.
        "clear_untrusted_proxy_headers": not app.config.get("PROXY_COUNT"),
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
    parser.add_argument("--header-timeout", type=int, default=HEADER_TIMEOUT)
    parser.add_argument("--no-access-log", action="store_true")
    parser.add_argument(
        "--warm-every",
        type=float,
        default=WARM_EVERY,
        help="seconds between checks for model versions not yet in this server's cache (0: at "
        "start only)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(message)s")
    if args.no_access_log:
        log.setLevel(logging.WARNING)
    app = create_app()
    with app.app_context():
        blobs.warm_new_connections(db.engine)
    server = make_server(
        app, args.host, args.port, args.threads, args.channel_timeout, args.header_timeout
    )
    server.print_listen("Serving on http://{}:{}")
    warming = threading.Thread(
        target=warm_model_cache, args=(app, args.warm_every), name="warm-cache", daemon=True
    )
    warming.start()
    server.run()


def warm_model_cache(app, every: float = 0, stop: threading.Event | None = None) -> None:
    """The published models copied into this server's cache while it already answers (a
    request that comes first copies what it needs itself); a failure here only costs that
    speed. With `every`, checked again every that many seconds, and on PostgreSQL also as soon
    as another server announces a version published or activated (store.announce): the first
    phone to ask for it is then served from this server's cache too (each check is one small
    query when nothing is new)."""
    from backend.model_delivery.store import warm_cache

    first, stop = True, stop or threading.Event()  # `stop`: for the tests
    announcements = _Announcements()
    try:
        while True:
            with app.app_context():
                if every:
                    announcements.listen()  # first: nothing published meanwhile is missed
                try:
                    count = warm_cache()
                    if first:
                        log.info("model cache warmed: %d version(s)", count)
                except Exception:  # the database may not be reachable yet: requests copy on demand
                    failures.exception("warming the model cache failed")
                finally:
                    db.session.remove()
            if not every or stop.is_set():
                return
            announcements.wait(every, stop)
            if stop.is_set():
                return
            first = False
    finally:
        announcements.close()


class _Announcements:
    """store.announce's notices, on PostgreSQL: a connection of this server's own (out of the
    pool, kept open) that LISTENs on store.CHANNEL. None on SQLite: no other server to hear."""

    def __init__(self) -> None:
        self.connection = None

    def listen(self) -> None:
        """In an app context; once, or again after the connection was lost. A failure (the
        database down, a pooler that has no LISTEN) leaves the timed checks alone."""
        from backend.model_delivery.store import CHANNEL

        if self.connection is not None or db.engine.dialect.name != "postgresql":
            return
        connection = None
        try:
            pooled = db.engine.raw_connection()
            connection = pooled.driver_connection
            pooled.detach()  # the pool opens another in its place
            connection.autocommit = True
            connection.execute(f"LISTEN {CHANNEL}")
            self.connection = connection
        except Exception:
            failures.exception("listening for new models failed")
            if connection is not None:
                connection.close()

    def wait(self, seconds: float, stop: threading.Event) -> None:
        """Until an announcement comes or `seconds` pass (`stop` only without a connection)."""
        if self.connection is None:
            stop.wait(seconds)
            return
        try:
            for _ in self.connection.notifies(timeout=seconds, stop_after=1):
                pass  # any announcement: the next check finds whatever is new
        except Exception:  # the connection went: listen again at the next check
            failures.exception("listening for new models failed")
            self.close()
            stop.wait(seconds)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


if __name__ == "__main__":
    main()
