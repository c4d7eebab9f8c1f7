"""Change jobs on RGB images measure their land cover before and after, like the command."""

from __future__ import annotations

import numpy as np

from .conftest import wait_done, write_raster


def _rgb_pair(data_dir):
    rng = np.random.default_rng(11)
    before = rng.normal(110, 20, size=(3, 96, 128)).clip(0, 255)
    after = before + rng.normal(0, 3, size=before.shape)
    after[:, 20:50, 30:80] = np.array([200, 60, 50])[:, None, None]
    after[:, 60:80, 90:120] = np.array([40, 140, 40])[:, None, None]
    (data_dir / "rgb").mkdir()
    write_raster(data_dir / "rgb" / "before.tif", before.astype(np.uint8))
    write_raster(data_dir / "rgb" / "after.tif", after.clip(0, 255).astype(np.uint8))
    return {"before": "rgb/before.tif", "after": "rgb/after.tif", "method": "cva"}


def test_a_change_job_carries_its_from_to_classes(server, data_dir):
    pair = _rgb_pair(data_dir)
    with server.client() as client:
        job_id = client.post("/api/jobs", json=pair).json()["id"]
        assert wait_done(client, job_id)["state"] == "done"
        summary = client.get(f"/api/jobs/{job_id}/summary").json()
        classes = summary["classes"]
        assert classes["measured"] and classes["complete"]
        rows = classes["transitions"]
        assert sum(r["pixels"] for r in rows) == summary["changed_pixels"]
        objects = client.get(f"/api/jobs/{job_id}/files/changes.geojson").json()["features"]
        assert objects and all("from_class" in f["properties"] for f in objects)
        assert {r["from"] for r in rows} <= set(classes["by_class"]) | {"unknown"}
        assert client.get(f"/api/jobs/{job_id}/classes").json() == classes
        names = {f["name"] for f in client.get(f"/api/jobs/{job_id}/files").json()["files"]}
        assert {"change_classes.tif", "change_classes.json"} <= names

        plain = client.post("/api/jobs", json={**pair, "classes": False}).json()
        assert plain["classes"] is False
        assert wait_done(client, plain["id"])["state"] == "done"
        summary = client.get(f"/api/jobs/{plain['id']}/summary").json()
        assert (
            summary["classes"]["measured"] is False and "classes" in summary["classes"]["notes"][0]
        )
        features = client.get(f"/api/jobs/{plain['id']}/files/changes.geojson").json()["features"]
        assert features and all("from_class" not in f["properties"] for f in features)
