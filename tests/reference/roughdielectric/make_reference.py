"""Render the roughdielectric reference images with Mitsuba 3.9.1 (llvm_ad_rgb), 16,384 spp.

Run from the repository root with Mitsuba installed (`pip install -e ".[bench]"`):
``python tests/reference/roughdielectric/make_reference.py``. The scenes are
`tests/plugins/test_roughdielectric.py`'s `scene_dict`; the images were rendered once and are
kept in the repository (the tests do not need Mitsuba)."""

import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "plugins"))

import mitsuba as mi

mi.set_variant("llvm_ad_rgb")
from test_roughdielectric import CONFIGS, reference_name, scene_dict

for config in CONFIGS:
    scene = mi.load_dict(scene_dict(mi.ScalarTransform4f, *config))
    image = np.array(mi.render(scene, spp=16384, seed=7), np.float32)[..., :3]
    np.save(HERE / reference_name(*config), image)
    print(reference_name(*config), image.mean((0, 1)))
