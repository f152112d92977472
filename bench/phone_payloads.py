"""What the phone really sends: real pbc cells classified in the app (headless Chromium, the
released white-cell model, a live server), timed from the Classify tap to the record saved on the
phone with its crop, and the sync payloads its outbox makes of them (contract 2, each with the
crop the model saw as a JPEG). Used by `make bench-dashboard`."""

import statistics
import tempfile
from pathlib import Path

from bench import pwa_driver as pwa
from bench.inputs import dataset_images, released_models

MODEL = "wbc-differential"


def payloads(page) -> list[dict]:
    """Every saved record as the outbox sends it (image included)."""
    return page.evaluate(
        """async () => {
            const { toPayload } = await import('/js/data/outbox.js');
            const records = await window.hematovision.db.getAll('predictions');
            return Promise.all(records.map((r) => toPayload(r)));
        }"""
    )


def phone_payloads(per_class: int = 3) -> tuple[list[dict], dict]:
    """(payloads, figures) from `per_class` pbc test cells of each class."""
    from playwright.sync_api import sync_playwright

    folder = released_models()[MODEL]
    pwa.ensure_pwa_built()
    files = dataset_images("pbc", per_class=per_class)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        tmp = Path(tmp)
        server = pwa.serve(tmp / "server", {MODEL: folder}).start()
        try:
            context, page = pwa.open_logged_in(p, server, tmp / "profile")
            page.context.set_offline(True)  # the outbox keeps them: nothing is sent meanwhile
            pwa.choose_model(page, MODEL)
            pwa.classify_files(page, files[:1])  # warm-up: the first call compiles the model
            taps: list[float] = []
            made = pwa.classify_files(page, files, taps)
            sent = payloads(page)
            context.close()
        finally:
            server.stop()
    tap = statistics.median(taps)
    inference = statistics.median(r["inference_ms"] for r in made)
    sizes = [len(s["image"]) * 3 // 4 for s in sent if "image" in s]
    figures = {
        "phone_cells": len(made),
        "phone_classify_to_saved_with_crop_p50_ms": round(tap, 1),
        "phone_inference_p50_ms": round(inference, 1),
        "phone_saved_vs_inference_ratio": round(tap / inference, 2),
        "phone_crop_jpeg_bytes_p50": int(statistics.median(sizes)) if sizes else None,
        "phone_records_with_crop": len(sizes),
    }
    return sent, figures
