"""Questions about one image, answered from its land-cover map.

``ask_image(image, question)`` reads (or makes) the image's ``landcover.tif``,
finds its objects (patches of building, road, water, vegetation, bare) and
answers presence, count, area and share, comparison, rural or urban, what is
at a place and where something is, with the objects' polygons as evidence.

>>> parse("is there more water than vegetation?").measure
'area'
"""

from terrasight.tasks.scene_ask.answer import SceneAnswer
from terrasight.tasks.scene_ask.ask import ask_image, ask_image_many
from terrasight.tasks.scene_ask.landcover_map import LandCoverMap, read_landcover
from terrasight.tasks.scene_ask.parse import parse

__all__ = ["LandCoverMap", "SceneAnswer", "ask_image", "ask_image_many", "parse", "read_landcover"]
