"""Render the roughplastic and roughdielectric reference images with Mitsuba 3.9.1
(llvm_ad_rgb), 16,384 spp, into roughplastic/ and roughdielectric/ beside this script.

Run from the repository root with Mitsuba installed (`pip install -e ".[bench]"`):
``python tests/reference/make_rough_references.py``. The scenes are the `scene_dict` of
`tests/plugins/test_roughplastic.py` and `test_roughdielectric.py`; the images were rendered
once and are kept in the repository (the tests do not need Mitsuba)."""

import importlib
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "plugins"))

import mitsuba as mi

mi.set_variant("llvm_ad_rgb")

for name in ("roughplastic", "roughdielectric"):
    test = importlib.import_module(f"test_{name}")
    for config in test.CONFIGS:
        scene = mi.load_dict(test.scene_dict(mi.ScalarTransform4f, *config))
        image = np.array(mi.render(scene, spp=16384, seed=7), np.float32)[..., :3]
        np.save(HERE / name / test.reference_name(*config), image)
        print(name, test.reference_name(*config), image.mean((0, 1)))
