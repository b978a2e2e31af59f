"""Scene description: XML and dict loaders, the host `Scene`, the reference Cornell box."""

from .cornell_box import cornell_box
from .dict_loader import load_dict
from .scene import Scene
from .xml_loader import load_file, load_string

__all__ = ["Scene", "cornell_box", "load_dict", "load_file", "load_string"]
