"""A grey image stored as RGB is not classified: the network would read it as colour and
guess (a radar scene came out "no water")."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from terrasight.cli import main
from terrasight.errors import BandSelectionError
from terrasight.tasks.landcover import landcover

from ...conftest import write_raster


def _image(tmp_path, colour: bool):
    rng = np.random.default_rng(5)
    grey = rng.integers(30, 200, (64, 64), dtype=np.uint8)
    data = np.stack([grey, grey, grey])
    if colour:
        data[2] = data[2] // 2
    return write_raster(tmp_path / f"{'colour' if colour else 'grey'}.tif", data)


def test_a_grey_image_is_refused_with_the_reason_and_a_colour_one_is_classified(tmp_path):
    grey = _image(tmp_path, colour=False)
    with pytest.raises(BandSelectionError, match="same values.*grey image.*needs colour"):
        landcover(grey)
    run = CliRunner().invoke(main, ["ask", str(grey), "is there water?"])
    assert run.exit_code != 0 and "grey image" in run.output and "No" not in run.output
    mapped = landcover(_image(tmp_path, colour=True))
    assert sum(mapped.pixels.values()) == 64 * 64
