"""GET /api/search: a real tiny archive index behind a real server, its footprints, its guards."""

from __future__ import annotations

from click.testing import CliRunner

from terrasight.server.config import ServerConfig

from .conftest import running


def test_the_archive_search_answers_with_footprints(config_for, tiny_archive):
    db, files = tiny_archive
    with running(config_for(db=db)) as server, server.client() as client:
        assert client.get("/api/data").json()["archive"] is True
        found = client.get("/api/search", params={"q": "an airport", "k": 3})
        assert found.status_code == 200, found.text
        body = found.json()
        assert body["type"] == "FeatureCollection" and len(body["features"]) == 3
        best, second = body["features"][0], body["features"][1]
        assert best["properties"]["source"] == files["Airport"].name == "airport.tif"
        assert best["properties"]["rank"] == 1 and best["geometry"]["type"] == "Polygon"
        west, south, east, north = best["properties"]["bbox"]
        assert 14.99 < west < east < 15.03 and 45.13 < south < north < 45.16
        assert second["geometry"] is None and second["properties"]["bbox"] is None
        assert str(db.parent) not in found.text  # file names only, never the server's folders

        boxed = client.get("/api/search", params={"q": "a beach", "bbox": "14.9,45.0,15.1,45.2"})
        assert [f["properties"]["source"] for f in boxed.json()["features"]] == ["airport.tif"]
        far = client.get("/api/search", params={"q": "a beach", "bbox": "100,10,101,11"}).json()
        assert (
            far["features"] == []
            and "no tile of the index lies in the box" in far["terrasight:message"]
        )

        bad_box = client.get("/api/search", params={"q": "x", "bbox": "1,2,3"})
        assert bad_box.status_code == 422 and bad_box.json()["error"] == "InvalidOptionError"
        bad_k = client.get("/api/search", params={"q": "x", "k": 0})
        assert bad_k.status_code == 422 and bad_k.json()["error"] == "InvalidRequest"
        bad_date = client.get("/api/search", params={"q": "x", "since": "yesterday"})
        assert bad_date.status_code == 422 and "YYYY-MM-DD" in bad_date.json()["detail"]
        with server.client(token=None) as anonymous:
            assert anonymous.get("/api/search", params={"q": "x"}).status_code == 401


def test_without_db_the_search_is_a_clear_404(server, tmp_path, config_for):
    with server.client() as client:
        assert client.get("/api/data").json()["archive"] is False
        refused = client.get("/api/search", params={"q": "an airport"})
        assert refused.status_code == 404 and refused.json()["error"] == "IndexNotFoundError"
        assert "terrasight serve --db PATH" in refused.json()["detail"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with running(config_for(db=empty)) as other, other.client() as client:
        refused = client.get("/api/search", params={"q": "an airport"})
        assert refused.status_code == 404 and str(empty) not in refused.text
        assert "holds no archive index" in refused.json()["detail"]


def test_serve_takes_db(tmp_path, monkeypatch):
    import uvicorn

    from terrasight.cli import main

    seen: dict[str, ServerConfig] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(c=app.state.context.config))
    db = tmp_path / "archive.lance"
    db.mkdir()
    res = CliRunner().invoke(main, ["serve", "--db", str(db), "--jobs", str(tmp_path / "jobs")])
    assert res.exit_code == 0, res.output
    assert seen["c"].db == db
