"""The local-disk baseline of `bench-backend`'s model download: one file served with Flask's
send_file from a folder, behind the same waitress server and options as `make run`
(backend.serve.make_server), with the same caching headers as the app's model route.

    python -m bench.disk_server FILE --port 5001 [--threads 4]
"""

import argparse
import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path

from flask import Flask, send_file

from backend.config import Config
from backend.serve import log, make_server


def make_app(path: Path) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = Config.MAX_CONTENT_LENGTH  # make_server sizes by it
    published = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    etag = hashlib.sha256(path.read_bytes()).hexdigest()

    @app.get("/model.tflite")
    def model():
        response = send_file(
            path,
            mimetype="application/octet-stream",
            etag=etag,
            last_modified=published,
            conditional=True,
            max_age=365 * 24 * 3600,
        )
        response.cache_control.public = True
        response.cache_control.immutable = True
        return response

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", type=Path)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    log.setLevel(logging.WARNING)  # as `make run` with --no-access-log
    make_server(make_app(args.file.resolve()), "127.0.0.1", args.port, args.threads).run()


if __name__ == "__main__":
    main()
