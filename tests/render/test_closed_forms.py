"""Physics checks with closed-form answers: white furnaces and direct lighting."""

import numpy as np
import pytest

import taichi_render as tr


def sensor(origin, target, up=(0, 1, 0), fov=30.0, res=16, spp=64):
    return {
        "type": "perspective",
        "fov": fov,
        "to_world": tr.ScalarTransform4f.look_at(origin=origin, target=target, up=up),
        "film": {"type": "hdrfilm", "width": res, "height": res, "rfilter": {"type": "box"}},
        "sampler": {"type": "independent", "sample_count": spp},
    }


@pytest.mark.portable
@pytest.mark.parametrize("albedo", [1.0, 0.5, 0.2])
def test_furnace_convex_sphere(scenes_dir, albedo):
    """A convex diffuse sphere in a uniform environment L shows albedo * L; background L."""
    L = 0.7
    scene = tr.load_file(scenes_dir / "furnace.xml", albedo=albedo, radiance=L, res=32)
    img = tr.render(scene, spp=256).to_numpy()
    center = img[12:20, 12:20]
    corner = img[:3, :3]
    np.testing.assert_allclose(center.mean(), albedo * L, rtol=0.01)
    np.testing.assert_allclose(corner, L, rtol=1e-5)


@pytest.mark.parametrize("albedo", [0.3, 0.7])
def test_furnace_inside_emitting_enclosure(albedo):
    """Inside a closed sphere whose inner surface emits Le and reflects with albedo a, the
    radiance is Le / (1 - a) everywhere (unbounded depth, Russian roulette from depth 5)."""
    Le = 0.4
    scene = tr.load_dict({
        "type": "scene",
        "integrator": {"type": "path", "max_depth": -1},
        "sensor": sensor((0, 0, 0), (0, 0, -1), fov=60, res=8),
        "shell": {
            "type": "sphere", "center": [0, 0, 0], "radius": 2.0, "flip_normals": True,
            "bsdf": {"type": "diffuse", "reflectance": albedo},
            "emitter": {"type": "area", "radiance": Le},
        },
    })
    img = tr.render(scene, spp=1024).to_numpy()
    np.testing.assert_allclose(img.mean(), Le / (1 - albedo), rtol=0.01)


def lit_plane(integrator, camera_height, reflectance, light):
    """A diffuse plane (y = 0) of `reflectance` lit by `light`, seen straight down through a
    4x4 film of 0.5 degrees from `camera_height` above its origin."""
    return tr.load_dict({
        "type": "scene",
        "integrator": integrator,
        "sensor": sensor((0, camera_height, 0), (0, 0, 0), up=(0, 0, 1), fov=0.5, res=4),
        "plane": {"type": "rectangle", "to_world": tr.ScalarTransform4f.rotate([1, 0, 0], -90).scale(10),
                  "bsdf": {"type": "diffuse", "reflectance": reflectance}},
        "light": light,
    })


@pytest.mark.portable
@pytest.mark.parametrize("integrator", [{"type": "direct"}, {"type": "path", "max_depth": 2}])
def test_point_light_over_diffuse_plane(integrator):
    """Radiance of a diffuse plane lit by a point light straight above: a/pi * I cos / h^2."""
    a, intensity, h = 0.6, 5.0, 1.5
    scene = lit_plane(integrator, 3, a, {"type": "point", "position": [0, h, 0], "intensity": intensity})
    img = tr.render(scene, spp=4).to_numpy()
    np.testing.assert_allclose(img, a / np.pi * intensity / h**2, rtol=1e-3)


@pytest.mark.parametrize("integrator", [{"type": "direct"}, {"type": "path", "max_depth": 2}])
def test_disk_light_over_diffuse_plane(integrator):
    """A disk emitter of radius R at height h over a point: E = pi L R^2 / (h^2 + R^2), so the
    diffuse plane below shows a L R^2 / (h^2 + R^2) (checks area sampling, MIS, the disk)."""
    a, L, R, h = 0.8, 3.0, 0.5, 1.0
    # the disk faces down (-y); the camera looks through its hole-free back: one-sided
    # emitters and diffuse surfaces are invisible from behind, so hide the disk from the
    # camera by placing it above the camera
    scene = lit_plane(integrator, 0.5, a, {
        "type": "disk", "to_world": tr.ScalarTransform4f.translate([0, h, 0]).rotate([1, 0, 0], 90).scale(R),
        "emitter": {"type": "area", "radiance": L}})
    img = tr.render(scene, spp=4096).to_numpy()
    np.testing.assert_allclose(img.mean(), a * L * R**2 / (h**2 + R**2), rtol=0.01)


@pytest.mark.parametrize("integrator", [{"type": "direct", "emitter_samples": 1, "bsdf_samples": 0},
                                        {"type": "direct"}, {"type": "path", "max_depth": 2}])
def test_close_sphere_light_over_diffuse_plane(integrator):
    """A sphere emitter fully above the horizon of a point acts as a point light of intensity
    pi L R^2: E = pi L R^2 cos(theta) / d^2. Close to the plane (d = 0.29, R = 0.1, 11 degrees
    above the horizon at its lowest), its light samples graze it from the plane; their shadow
    rays had kept the sampled direction from the offset origin and hit the sphere just before
    the sample: 2.1 % of the light was lost (1.006x the closed form now, at this seed)."""
    a, L, R = 0.5, 8.0, 0.1
    center = np.array([0.25, 0.15, 0.0])
    scene = lit_plane(integrator, 3, a, {"type": "sphere", "center": center.tolist(), "radius": R,
                                         "emitter": {"type": "area", "radiance": L}})
    d = np.linalg.norm(center)
    img = tr.render(scene, spp=16384, seed=1).to_numpy()
    np.testing.assert_allclose(img.mean(), a * L * R**2 * center[1] / d**3, rtol=0.01)
