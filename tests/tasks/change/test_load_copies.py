"""A saved result of a remote box job still reads its local copies after loading, even
from a folder that has moved; the agent's picture tools read them too."""

from __future__ import annotations

import shutil

from terrasight.agent.scene_tools import _image_path
from terrasight.agent.session import Session
from terrasight.io.box_copy import COPY_DIR
from terrasight.tasks.change.load import load_result
from terrasight.tasks.change.pipeline.detect import detect_changes
from terrasight.tasks.interpret.facts import FactsOptions


def test_a_loaded_remote_result_reads_its_copies_where_the_folder_now_is(
    cog_pair, range_server, tmp_path
):
    _, _, box = cog_pair
    urls = [range_server.url("before.tif"), range_server.url("after.tif")]
    result = detect_changes(*urls, method="auto", bbox=box, outdir=tmp_path / "r")
    result.save(tmp_path / "r", facts=FactsOptions(classify=False), report=False, workers=1)

    loaded = load_result(tmp_path / "r")
    assert (loaded.before, loaded.after) == tuple(urls)
    assert loaded.local_inputs == result.local_inputs
    assert loaded.method_choice == result.method_choice and loaded.method_choice is not None

    moved = shutil.move(tmp_path / "r", tmp_path / "elsewhere")
    shutil.rmtree(tmp_path / "r", ignore_errors=True)
    again = load_result(moved)
    assert all(p.startswith(str(moved)) and COPY_DIR in p for p in again.input_paths)
    assert str(_image_path(Session(moved), "after")) == again.input_paths[1]
