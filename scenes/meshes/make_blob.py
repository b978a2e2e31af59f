"""Write `blob.obj`: the target shape of tutorial 08 and the object of tutorial 09.

An icosphere (4 subdivisions of an icosahedron: 2562 vertices, 5120 triangles) whose radius is
pushed out and in by a few low-frequency waves, asymmetric, with concave dents (genus 0, so a
sphere of the same connectivity can be deformed into it). Run from this folder:
``python make_blob.py`` (numpy only; the committed file is its output).
"""

import pathlib

import numpy as np


def icosphere(subdivisions: int):
    t = (1.0 + 5.0**0.5) / 2.0
    v = [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t], [0, -1, -t], [0, 1, -t],
         [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]]
    f = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2],
         [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5],
         [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    v = [np.array(p, float) / np.linalg.norm(p) for p in v]
    for _ in range(subdivisions):
        cache, faces = {}, []

        def middle(a, b):
            key = (min(a, b), max(a, b))
            if key not in cache:
                m = v[a] + v[b]
                v.append(m / np.linalg.norm(m))
                cache[key] = len(v) - 1
            return cache[key]

        for a, b, c in f:
            ab, bc, ca = middle(a, b), middle(b, c), middle(c, a)
            faces += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        f = faces
    return np.array(v), np.array(f)


def blob(v: np.ndarray) -> np.ndarray:
    x, y, z = v.T
    r = 1.0 + 0.35 * np.sin(3.0 * x + 1.0) * np.cos(2.5 * y) + 0.25 * np.cos(4.0 * z - 0.5 * x) - 0.1 * y
    return v * (0.5 * r)[:, None]


if __name__ == "__main__":
    vertices, faces = icosphere(4)
    out = pathlib.Path(__file__).with_name("blob.obj")
    lines = ["# scenes/meshes/make_blob.py: a bumpy icosphere with dents (tutorials 08 and 09)"]
    lines += [f"v {p[0]:.6f} {p[1]:.6f} {p[2]:.6f}" for p in blob(vertices)]
    lines += [f"f {a + 1} {b + 1} {c + 1}" for a, b, c in faces]
    out.write_text("\n".join(lines) + "\n")
    print(f"{out}: {len(vertices)} vertices, {len(faces)} triangles")
