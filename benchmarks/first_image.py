"""Time from process start to the first Cornell box image (64x64, spp 4): run as a script."""

import time

T0 = time.perf_counter()

import taichi_render as tr

tr.init("cpu")
scene = tr.load_file(__file__.rsplit("/", 2)[0] + "/scenes/cbox.xml", res=64, spp=4)
tr.render(scene).to_numpy()
print(f"first_image_s={time.perf_counter() - T0:.2f}")
