"""A record's class-activation map ("cam", why the model made its call): synced with the record,
checked (a bad map makes only its record invalid), stored, and drawn by the dashboard over the
synced cell image; a record without one (an older phone, an older model) is as before."""

import io

import numpy as np
import pytest
from PIL import Image

from backend.dashboard.why_overlay import TABLE, overlay_rgba
from tests.conftest import cell_record, make_record, pbc_images, push, statuses
from tests.dashboard.conftest import sign_in

# A real 6 x 6 map shape: strongest at the top left, nothing in the bottom rows.
CAM = {
    "label": "neutrophil",
    "rows": 6,
    "cols": 6,
    "values": [255, 200, 120, 60, 10, 0] * 3 + [0] * 18,
}


def with_cam(record: dict, cam=CAM) -> dict:
    return {**record, "cam": cam}


def test_a_map_travels_with_its_record_and_a_record_without_one_is_as_before(app, client, auth):
    headers = auth.headers("tech")
    mapped, plain = with_cam(make_record()), make_record()
    assert statuses(push(client, headers, [mapped, plain])) == ["created", "created"]
    stored = client.get(f"/api/predictions/{mapped['id']}", headers=headers).get_json()
    assert stored["prediction"]["cam"] == CAM
    stored = client.get(f"/api/predictions/{plain['id']}", headers=headers).get_json()
    assert stored["prediction"]["cam"] is None
    # A re-send is a duplicate; the same id with another map is a conflict, the first is kept.
    other = {**CAM, "values": list(reversed(CAM["values"]))}
    again = statuses(push(client, headers, [mapped, plain, with_cam(mapped, other)]))
    assert again == ["duplicate", "duplicate", "conflict"]
    stored = client.get(f"/api/predictions/{mapped['id']}", headers=headers).get_json()
    assert stored["prediction"]["cam"] == CAM


BAD_MAPS = [
    ("a map", "'cam' must be an object"),
    ([1, 2], "'cam' must be an object"),
    ({**CAM, "rows": 0}, "'cam.rows' must be an integer from 1 to 64"),
    ({**CAM, "cols": 65}, "'cam.cols' must be an integer from 1 to 64"),
    ({**CAM, "rows": "6"}, "'cam.rows' must be an integer from 1 to 64"),
    ({**CAM, "rows": True}, "'cam.rows' must be an integer from 1 to 64"),
    ({**CAM, "rows": 6.0}, "'cam.rows' must be an integer from 1 to 64"),
    ({**CAM, "values": CAM["values"][:-1]}, "'cam.values' must be a list of 36 integers"),
    ({**CAM, "values": [256] + CAM["values"][1:]}, "from 0 to 255 (rows x cols)"),
    ({**CAM, "values": [-1] + CAM["values"][1:]}, "from 0 to 255"),
    ({**CAM, "values": [0.5] + CAM["values"][1:]}, "'cam.values' must be a list of 36"),
    ({**CAM, "values": [None] * 36}, "'cam.values' must be a list of 36"),
    ({**CAM, "values": "0" * 36}, "'cam.values' must be a list of 36"),
    ({k: v for k, v in CAM.items() if k != "values"}, "'cam.values' must be a list of 36"),
    ({**CAM, "label": None}, "'cam.label' must be a class name of 1 to 64 characters"),
    ({**CAM, "label": "n" * 65}, "'cam.label' must be a class name of 1 to 64 characters"),
    ({**CAM, "label": " "}, "'cam.label' must be a class name"),
    ({**CAM, "label": "a\x00b"}, "'cam.label' contains a NUL"),
]


def test_a_bad_map_makes_only_its_record_invalid_and_says_why(app, client, auth):
    headers = auth.headers("tech")
    good = [with_cam(make_record()), make_record()]
    bad = [with_cam(make_record(), cam) for cam, _ in BAD_MAPS]
    response = push(client, headers, [good[0], *bad, good[1]])
    results = response.get_json()["results"]
    assert statuses(response) == ["created"] + ["invalid"] * len(bad) + ["created"]
    for result, (_, message) in zip(results[1:-1], BAD_MAPS, strict=True):
        assert message in result["error"]
    for record in good:
        assert client.get(f"/api/predictions/{record['id']}", headers=headers).status_code == 200


@pytest.fixture
def mapped_records(app, client, auth):
    """Three records with a real cell image: with a map, with none, unfamiliar with a map."""
    image = pbc_images("neutrophil", 1)[0]
    records = [
        with_cam(cell_record("neutrophil", image)),
        cell_record("neutrophil", image),
        with_cam(cell_record("neutrophil", image, status="unfamiliar")),
    ]
    assert statuses(push(client, auth.headers("tech"), records)) == ["created"] * 3
    sign_in(client, "viewer")
    return records


def test_the_dashboard_draws_the_synced_map_over_the_synced_crop(client, mapped_records):
    mapped, plain, unfamiliar = (r["id"] for r in mapped_records)
    page = client.get(f"/dashboard/results/{mapped}").get_data(as_text=True)
    assert 'id="why-toggle"' in page and f"/dashboard/results/{mapped}/why.png" in page
    assert "Where the model saw evidence for Neutrophil" in page
    jpeg = client.get(f"/dashboard/results/{mapped}/image.jpg").get_data()
    png = client.get(f"/dashboard/results/{mapped}/why.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    crop = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")).astype(int)
    drawn = np.asarray(Image.open(io.BytesIO(png.get_data()))).astype(int)
    assert drawn.shape == crop.shape  # the map covers the whole crop, stretched
    overlay = overlay_rgba(CAM, crop.shape[1], crop.shape[0]).astype(int)
    alpha = overlay[..., 3:]
    # The ramp's colour over the crop by its opacity: untouched where the map is empty.
    assert (alpha == 0).any() and (alpha == TABLE[255, 3]).any()
    expected = (overlay[..., :3] * alpha + crop * (255 - alpha)) / 255
    assert np.abs(drawn - expected).max() <= 1
    # No map, or an unfamiliar call (no class put forward): no toggle, no overlay.
    for record_id in (plain, unfamiliar):
        page = client.get(f"/dashboard/results/{record_id}").get_data(as_text=True)
        assert "why-toggle" not in page and "Show why" not in page
        assert client.get(f"/dashboard/results/{record_id}/why.png").status_code == 404
