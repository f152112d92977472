"""Files in the database (backend/storage/blobs.py): written once per key, read whole or in
slices, copied to a local cache checked against its sha256; and `flask storage import-files`,
which moves an older installation's files from disk into the database, idempotently."""

import io
import shutil
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.http import http_date

from backend import db
from backend.models import Blob, ModelVersion, Prediction
from backend.storage import blobs
from backend.storage.cli import import_files_command
from tests.conftest import cell_record, pbc_images, publish_folder, sync


def _blobs(app) -> dict[str, bytes]:
    with app.app_context():
        return dict(db.session.execute(sa.select(Blob.key, Blob.data)).all())


def test_a_key_is_written_once_and_read_whole_or_in_slices(app, monkeypatch):
    data = bytes(range(256)) * 40  # 10 KiB, every byte value
    with app.app_context():
        info, created = blobs.put("t/a.bin", data, "application/octet-stream")
        assert created and info.size == len(data) and info.sha256 == blobs.sha256_of(data)
        db.session.commit()
        assert blobs.put("t/a.bin", data, "application/octet-stream")[1] is False  # no-op
        with pytest.raises(blobs.BlobConflict):
            blobs.put("t/a.bin", data + b"x", "application/octet-stream")
        db.session.rollback()
        assert blobs.read("t/a.bin") == data and blobs.exists("t/a.bin")
        assert blobs.read("t/none") is None and not blobs.exists("t/none")
        monkeypatch.setattr(blobs, "CHUNK", 1000)  # 11 slices, the last one short
        pieces = list(blobs.chunks("t/a.bin", len(data)))
        assert len(pieces) == 11 and b"".join(pieces) == data


def test_new_keys_are_stored_in_one_statement_and_a_taken_one_is_refused(app):
    with app.app_context():
        blobs.put_new([("t/b.jpg", b"b", "image/jpeg"), ("t/a.jpg", b"a", "image/jpeg")])
        db.session.commit()
        assert blobs.read("t/a.jpg") == b"a" and blobs.info("t/b.jpg").size == 1
        with pytest.raises(blobs.BlobConflict):
            blobs.put_new([("t/c.jpg", b"c", "image/jpeg"), ("t/a.jpg", b"a", "image/jpeg")])
        db.session.rollback()
        assert not blobs.exists("t/c.jpg")


def test_the_local_copy_is_fetched_once_checked_and_refetched_when_wrong(app, tmp_path):
    data = b"model bytes " * 1000
    digest = blobs.sha256_of(data)
    with app.app_context():
        blobs.put("t/m.tflite", data, "application/octet-stream")
        db.session.commit()
        app.config["BLOB_CACHE"] = str(tmp_path / "other-cache")
        path = blobs.local_path("t/m.tflite", digest)
        assert path.read_bytes() == data and path.name == digest
        app.config["BLOB_CACHE"] = str(tmp_path / "damaged-cache")  # a file altered on disk
        damaged = tmp_path / "damaged-cache" / "blobs" / digest[:2] / digest
        damaged.parent.mkdir(parents=True)
        damaged.write_bytes(b"not it")
        assert blobs.local_path("t/m.tflite", digest).read_bytes() == data
        with pytest.raises(blobs.BlobCorrupt):  # asked for other bytes than are stored
            blobs.local_path("t/m.tflite", "0" * 64)
        with pytest.raises(blobs.BlobMissing):
            blobs.local_path("t/none", "1" * 64)
        # a folder of cached files (the classifier's): rebuilt when a file in it is altered
        files = {"model.tflite": ("t/m.tflite", digest)}
        folder = blobs.local_folder("m", files)
        assert (folder / "model.tflite").read_bytes() == data
        (folder / "model.tflite").unlink()
        (folder / "model.tflite").write_bytes(b"altered")
        assert (blobs.local_folder("m", files) / "model.tflite").read_bytes() == data


def test_a_server_with_an_empty_cache_serves_and_classifies_a_published_model(
    app, client, auth, releases, tmp_path
):
    publish_folder(app, releases["v1"])
    assert not any(Path(app.config["MODEL_STORE"]).rglob("*"))  # nothing on disk but a cache
    app.config["BLOB_CACHE"] = str(tmp_path / "fresh-cache")  # as a second server would
    tflite = client.get("/api/models/cells/1.0.0/model.tflite")
    assert tflite.status_code == 200
    assert tflite.data == (releases["v1"] / "model.tflite").read_bytes()
    photo = pbc_images("neutrophil", 1)[0].read_bytes()
    upload = {"image": (io.BytesIO(photo), "cell.jpg")}
    predicted = client.post("/predict", data=upload, headers=auth.headers("tech"))
    assert predicted.status_code == 200, predicted.get_json()
    assert list((tmp_path / "fresh-cache" / "folders").glob("*/model.tflite"))


# --- flask storage import-files -----------------------------------------------------------


@pytest.fixture
def old_install(app, releases):
    """Files where the server before the blobs table wrote them, with their rows."""
    store, uploads = Path(app.config["MODEL_STORE"]), Path(app.config["UPLOAD_FOLDER"])
    (store / "cells" / "1.0.0").mkdir(parents=True)
    for name in ("model.tflite", "model.json"):
        shutil.copyfile(releases["v1"] / name, store / "cells" / "1.0.0" / name)
    photos = pbc_images("lymphocyte", 2)
    cells = uploads / "cells"
    cells.mkdir(parents=True)
    shutil.copyfile(photos[0], cells / "a1.jpg")  # named by a record
    shutil.copyfile(photos[1], cells / "orphan.jpg")  # a failed sync's leftover: no record
    (uploads / "2026" / "11" / "30").mkdir(parents=True)
    shutil.copyfile(photos[1], uploads / "2026" / "11" / "30" / "u1.jpg")
    (uploads / "2026" / "11" / "30" / ".upload-half").write_bytes(b"half")  # a temp file
    model = (releases["v1"] / "model.tflite").read_bytes()
    card = (releases["v1"] / "model.json").read_bytes()
    with app.app_context():
        db.session.add(
            ModelVersion(
                name="cells",
                version="1.0.0",
                labels=["lymphocyte", "monocyte", "neutrophil"],
                sha256=blobs.sha256_of(model),
                size_bytes=len(model),
                meta_sha256=blobs.sha256_of(card),
                file_path="cells/1.0.0/model.tflite",
                meta_path="cells/1.0.0/model.json",
                active=True,
            )
        )
        db.session.commit()
    return {
        "models/cells/1.0.0/model.tflite": store / "cells" / "1.0.0" / "model.tflite",
        "models/cells/1.0.0/model.json": store / "cells" / "1.0.0" / "model.json",
        "cells/a1.jpg": cells / "a1.jpg",
        "uploads/2026/11/30/u1.jpg": uploads / "2026" / "11" / "30" / "u1.jpg",
    }


def _record_with_image(app, client, auth, name: str) -> str:
    record = cell_record("lymphocyte")
    assert sync(client, auth, "tech", [record]) == ["created"]
    with app.app_context():
        db.session.execute(
            sa.update(Prediction).where(Prediction.id == record["id"]).values(image_path=name)
        )
        db.session.commit()
    return record["id"]


def _import(app, *args: str):
    result = app.test_cli_runner().invoke(import_files_command, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_import_keeps_the_files_by_default_and_a_second_run_changes_nothing(
    app, client, auth, old_install
):
    from tests.dashboard.conftest import sign_in

    record_id = _record_with_image(app, client, auth, "a1.jpg")
    first = _import(app)
    assert "4 imported" in first and "1 cell images no record names" in first, first
    stored = _blobs(app)
    assert set(stored) == set(old_install)
    for key, path in old_install.items():
        assert stored[key] == path.read_bytes()  # kept on disk, and byte for byte in the db
    again = _import(app)
    assert "4 already stored" in again and "imported" not in again, again
    assert _blobs(app) == stored
    # what the old files were is served from the database
    tflite = client.get("/api/models/cells/1.0.0/model.tflite")
    assert tflite.status_code == 200 and tflite.data == stored["models/cells/1.0.0/model.tflite"]
    assert tflite.headers["ETag"] == f'"{blobs.sha256_of(tflite.data)}"'
    upload = client.get("/predict/uploads/2026/11/30/u1.jpg", headers=auth.headers("admin"))
    assert upload.status_code == 200 and upload.data == stored["uploads/2026/11/30/u1.jpg"]
    sign_in(client, "viewer")
    image = client.get(f"/dashboard/results/{record_id}/image.jpg")
    assert image.status_code == 200 and image.data == stored["cells/a1.jpg"]


def test_an_interrupted_import_with_delete_loses_and_doubles_nothing(
    app, client, auth, old_install, monkeypatch
):
    _record_with_image(app, client, auth, "a1.jpg")
    contents = {key: path.read_bytes() for key, path in old_install.items()}
    real_put, calls = blobs.put, []

    def crashing_put(key, data, content_type):
        calls.append(key)
        if len(calls) == 3:
            raise ConnectionError("the database went away mid-import")
        return real_put(key, data, content_type)

    monkeypatch.setattr(blobs, "put", crashing_put)
    result = app.test_cli_runner().invoke(import_files_command, ["--delete"])
    assert isinstance(result.exception, ConnectionError)
    monkeypatch.setattr(blobs, "put", real_put)
    with app.app_context():
        db.session.rollback()
    committed = _blobs(app)
    assert len(committed) == 2  # the two before the interruption
    for key, path in old_install.items():
        assert path.exists() == (key not in committed)  # deleted only once committed
    second = _import(app, "--delete")
    assert "2 imported" in second and "2 deleted" in second, second
    assert _blobs(app) == contents  # every file once, byte for byte
    assert not any(path.exists() for path in old_install.values())
    assert (Path(app.config["UPLOAD_FOLDER"]) / "cells" / "orphan.jpg").exists()  # no record
    assert "imported" not in _import(app, "--delete")


def test_a_file_committed_but_not_yet_deleted_is_deleted_by_the_next_run(app, old_install):
    path = old_install["uploads/2026/11/30/u1.jpg"]
    with app.app_context():  # as if the last run stopped between the commit and the unlink
        blobs.put("uploads/2026/11/30/u1.jpg", path.read_bytes(), "image/jpeg")
        db.session.commit()
    output = _import(app, "--delete")
    assert "1 already stored" in output and "2 imported" in output and "3 deleted" in output
    assert not path.exists()


def test_a_file_that_differs_from_what_is_stored_or_published_is_kept_and_reported(
    app, old_install
):
    upload = old_install["uploads/2026/11/30/u1.jpg"]
    with app.app_context():
        blobs.put("uploads/2026/11/30/u1.jpg", b"other bytes", "image/jpeg")
        db.session.commit()
    old_install["models/cells/1.0.0/model.tflite"].write_bytes(b"damaged model")
    result = app.test_cli_runner().invoke(
        import_files_command, ["--delete"], catch_exceptions=False
    )
    assert result.exit_code == 0
    assert "u1.jpg: uploads/2026/11/30/u1.jpg is stored with other content" in result.output
    assert "not imported" in result.output and "2 problems" in result.output
    assert upload.exists() and old_install["models/cells/1.0.0/model.tflite"].exists()
    stored = _blobs(app)
    assert stored["uploads/2026/11/30/u1.jpg"] == b"other bytes"
    assert "models/cells/1.0.0/model.tflite" not in stored


def test_warming_copies_the_active_models_into_a_fresh_cache(app, releases, tmp_path):
    from backend.model_delivery.store import warm_cache
    from backend.serve import warm_model_cache

    publish_folder(app, releases["v1"])
    app.config["BLOB_CACHE"] = str(tmp_path / "fresh-cache")  # a server that never saw it
    warm_model_cache(app)  # what backend.serve starts beside the server
    cached = {p.name: p.read_bytes() for p in (tmp_path / "fresh-cache").rglob("*") if p.is_file()}
    tflite = (releases["v1"] / "model.tflite").read_bytes()
    assert tflite in cached.values() and cached["model.tflite"] == tflite  # download + classifier
    with app.app_context():
        assert warm_cache() == 1  # again: the files are there and checked, nothing copied


def test_warming_copies_every_published_version_so_a_rollback_is_served_at_once(
    app, releases, tmp_path
):
    """The version an admin may roll back to (published, not active) is in a fresh server's
    cache too; only the active one is also laid out as a folder for the classifier."""
    from backend.model_delivery.store import warm_cache

    publish_folder(app, releases["v1"])
    publish_folder(app, releases["v2"], activate=False)
    app.config["BLOB_CACHE"] = str(tmp_path / "fresh-cache")
    with app.app_context():
        assert warm_cache() == 2
    files = [p for p in (tmp_path / "fresh-cache").rglob("*") if p.is_file()]
    for version in ("v1", "v2"):
        for name in ("model.tflite", "model.json"):
            assert blobs.sha256_of((releases[version] / name).read_bytes()) in {
                p.name for p in files
            }
    folders = {p.read_bytes() for p in files if p.name == "model.tflite"}
    assert folders == {(releases["v1"] / "model.tflite").read_bytes()}


def test_a_failed_warming_is_logged_and_the_server_goes_on(app, monkeypatch, caplog):
    from backend.model_delivery import store
    from backend.serve import warm_model_cache

    def unreachable():
        raise sa.exc.OperationalError("SELECT", {}, Exception("database not reachable yet"))

    monkeypatch.setattr(store, "warm_cache", unreachable)
    warm_model_cache(app)  # must not raise: requests copy what they need on demand
    assert "warming the model cache failed" in caplog.text


def test_a_first_download_is_sent_from_the_database_checked_and_left_in_the_cache(
    app, client, releases, tmp_path
):
    """A server that never saw the version answers its first GET from the bytes of one query,
    with the same headers as from its cache later; bytes that do not match the version's
    sha256 are never sent nor cached."""
    publish_folder(app, releases["v1"])
    tflite = (releases["v1"] / "model.tflite").read_bytes()
    digest = blobs.sha256_of(tflite)
    url = "/api/models/cells/1.0.0/model.tflite"
    app.config["BLOB_CACHE"] = str(tmp_path / "fresh-cache")
    first = client.get(url)
    assert first.status_code == 200 and first.data == tflite
    cached = tmp_path / "fresh-cache" / "blobs" / digest[:2] / digest
    assert not cached.exists()  # not before the answer is sent...
    first.close()  # ...which the WSGI server says by closing it
    assert cached.read_bytes() == tflite
    second = client.get(url)  # from the cache
    for header in ("ETag", "Last-Modified", "Cache-Control", "Content-Length", "Content-Type"):
        assert first.headers[header] == second.headers[header], header
    assert "immutable" in first.headers["Cache-Control"]
    app.config["BLOB_CACHE"] = str(tmp_path / "another-fresh-cache")  # cold again
    revalidated = client.get(url, headers={"If-None-Match": first.headers["ETag"]})
    assert revalidated.status_code == 304 and revalidated.data == b""
    app.config["BLOB_CACHE"] = str(tmp_path / "cold-for-a-range")
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == tflite[100:200]
    with app.app_context():  # the stored bytes altered behind the version's back
        altered = sa.update(Blob).where(Blob.key == "models/cells/1.0.0/model.tflite")
        db.session.execute(altered.values(data=tflite[:-1] + b"\0"))
        db.session.commit()
    app.config["BLOB_CACHE"] = str(tmp_path / "cold-for-altered-bytes")
    refused = client.get(url)
    assert refused.status_code == 500 and refused.data != tflite
    assert not (tmp_path / "cold-for-altered-bytes" / "blobs" / digest[:2] / digest).exists()


def test_a_version_activated_after_start_is_warmed_without_a_request(app, releases, tmp_path):
    """backend.serve checks every --warm-every seconds: a version published and activated
    through another server reaches this server's cache before any phone asks for it."""
    from backend.serve import warm_model_cache

    app.config["BLOB_CACHE"] = str(tmp_path / "this-servers-cache")
    stop = threading.Event()
    warming = threading.Thread(target=warm_model_cache, args=(app, 0.05, stop))
    warming.start()
    try:
        publish_folder(app, releases["v1"])  # as through the other server, after this one started
        assert _cached_soon(tmp_path / "this-servers-cache", releases["v1"])
    finally:
        stop.set()
        warming.join()


@pytest.mark.postgresql_only
def test_a_server_that_cannot_listen_still_checks_on_its_timer(
    app, releases, tmp_path, monkeypatch, caplog
):
    """LISTEN refused (as by a pooler that has none) is logged, and the timed checks still
    copy what another server published."""
    import psycopg

    from backend.serve import warm_model_cache

    execute = psycopg.Connection.execute

    def refuse_listen(self, query, *args, **kwargs):
        if str(query).startswith("LISTEN"):
            raise psycopg.errors.FeatureNotSupported("LISTEN is not supported here")
        return execute(self, query, *args, **kwargs)

    monkeypatch.setattr(psycopg.Connection, "execute", refuse_listen)
    app.config["BLOB_CACHE"] = str(tmp_path / "this-servers-cache")
    stop = threading.Event()
    warming = threading.Thread(target=warm_model_cache, args=(app, 0.05, stop))
    warming.start()
    try:
        publish_folder(app, releases["v1"])
        assert _cached_soon(tmp_path / "this-servers-cache", releases["v1"])
    finally:
        stop.set()
        warming.join()
    assert "listening for new models failed" in caplog.text


def _cached_soon(cache: Path, release: Path, seconds: float = 10) -> bool:
    """Whether the release's model file is in the server's cache within `seconds`."""
    digest = blobs.sha256_of((release / "model.tflite").read_bytes())
    cached = cache / "blobs" / digest[:2] / digest
    deadline = time.monotonic() + seconds
    while not cached.is_file() and time.monotonic() < deadline:
        time.sleep(0.02)
    return cached.is_file()


@pytest.mark.postgresql_only
def test_a_version_published_through_another_server_is_warmed_at_once(
    app, releases, tmp_path, monkeypatch
):
    """On PostgreSQL a publish announces itself (NOTIFY, at commit): a server listening copies
    the version into its cache at once, long before its next timed check (60 s here)."""
    from backend import serve
    from backend.model_delivery.store import CHANNEL

    waiting, wait = threading.Event(), serve._Announcements.wait

    def waits(self, seconds, stop):
        waiting.set()  # its first check is done
        wait(self, seconds, stop)

    monkeypatch.setattr(serve._Announcements, "wait", waits)
    app.config["BLOB_CACHE"] = str(tmp_path / "this-servers-cache")
    stop = threading.Event()
    warming = threading.Thread(target=serve.warm_model_cache, args=(app, 60, stop))
    warming.start()
    try:
        assert waiting.wait(10)
        publish_folder(app, releases["v1"], activate=False)  # as through the other server
        assert _cached_soon(tmp_path / "this-servers-cache", releases["v1"])
    finally:
        stop.set()
        with app.app_context():  # wakes it, to see `stop`
            db.session.execute(sa.text(f"NOTIFY {CHANNEL}"))
            db.session.commit()
        warming.join(10)
    assert not warming.is_alive()


def test_a_cached_download_reads_no_bytes_and_survives_its_cache_file_going(
    app, client, releases, tmp_path
):
    """Once a server holds the checked file, its downloads are sent from it even if the stored
    bytes were altered since (they were checked when cached); if the file goes, the next GET
    reads the database again (store.download leaves the bytes out for cached files)."""
    publish_folder(app, releases["v1"])
    tflite = (releases["v1"] / "model.tflite").read_bytes()
    digest = blobs.sha256_of(tflite)
    url = "/api/models/cells/1.0.0/model.tflite"
    app.config["BLOB_CACHE"] = str(tmp_path / "cache")
    first = client.get(url)  # sent from the database, then cached
    with app.app_context():
        version = db.session.scalar(sa.select(ModelVersion).where(ModelVersion.name == "cells"))
        assert first.headers["Last-Modified"] == http_date(version.published_at)
        assert first.headers["ETag"] == f'"{version.sha256}"'
    first.close()
    cached = tmp_path / "cache" / "blobs" / digest[:2] / digest
    assert cached.read_bytes() == tflite
    with app.app_context():
        altered = sa.update(Blob).where(Blob.key == "models/cells/1.0.0/model.tflite")
        db.session.execute(altered.values(data=tflite[:-1] + b"\0"))
        db.session.commit()
    assert client.get(url).data == tflite  # from the checked cache file
    with app.app_context():
        db.session.execute(altered.values(data=tflite))
        db.session.commit()
    cached.unlink()  # the file gone behind the server's back
    again = client.get(url)
    assert again.status_code == 200 and again.data == tflite
    assert client.get("/api/models/cells/9.9.9/model.tflite").status_code == 404


@pytest.mark.postgresql_only
def test_a_read_outside_a_transaction_sees_what_the_request_wrote_before_it(app):
    """blobs.read_row reads without BEGIN when nothing is pending, leaving the connection idle,
    and inside the transaction when the request has written: it sees its own uncommitted rows."""
    from psycopg.pq import TransactionStatus

    with app.app_context():
        raw = db.session.connection().connection.driver_connection
        assert blobs.read_row("SELECT 1", ()) == (1,)
        assert raw.info.transaction_status == TransactionStatus.IDLE and not raw.autocommit
        blobs.put("t/pending.bin", b"not committed yet", "application/octet-stream")
        assert blobs.download("t/pending.bin", blobs.sha256_of(b"not committed yet")) == (
            b"not committed yet"
        )
        assert raw.info.transaction_status == TransactionStatus.INTRANS
        db.session.rollback()


@pytest.mark.postgresql_only
def test_new_connections_open_the_blobs_toast_and_work_without_a_blobs_table(app, tmp_path):
    """backend.serve readies each new PostgreSQL connection (blobs.warm_new_connections); a
    database not migrated yet must not make connecting fail."""
    with app.app_context():
        url = db.engine.url
    for database in ("with the table", "without"):
        engine = sa.create_engine(
            url if database == "with the table" else url.set(database="postgres")
        )
        blobs.warm_new_connections(engine)
        try:
            with engine.connect() as connection:
                assert connection.execute(sa.text("SELECT 1")).scalar() == 1
                raw = connection.connection.driver_connection
                assert not raw.autocommit
        finally:
            engine.dispose()
