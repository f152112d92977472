"""Building prediction records the way a phone sends them."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


def make_record(**changes: Any) -> dict[str, Any]:
    record = {
        "id": str(uuid.uuid4()),
        "model_name": "cells",
        "model_version": "1.0.0",
        "label": "neutrophil",
        "confidence": 0.91,
        "status": "ok",
        "probabilities": {"neutrophil": 0.91, "lymphocyte": 0.06, "monocyte": 0.03},
        "captured_at": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
        "device_id": "phone-1",
        "slide_id": "S-001",
        "note": "field 3",
    }
    record.update(changes)
    return record


def push(client, headers: dict, records: list[dict]):
    return client.post("/api/sync/predictions", json={"predictions": records}, headers=headers)


def statuses(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [r["status"] for r in response.get_json()["results"]]
