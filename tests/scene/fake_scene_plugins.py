"""Throwaway plugins for the loader tests (type names start with ``tfake_``), and the `plugins`
fixture that makes the registry usable whether or not the real plugin packages exist yet."""

import importlib.util

import numpy as np
import pytest

from taichi_render.core import registry
from taichi_render.core.registry import Plugin, register


@register("texture", "tfake_tex")
class FakeTexture(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.value = props.get_color("value", 0.5)


@register("bsdf", "tfake_diffuse")
class FakeDiffuse(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.reflectance = props.get_texture("reflectance", 0.5)
        self.alpha = props.get_float("alpha", 0.1)


@register("bsdf", "tfake_bag")
class FakeBag(Plugin):
    """Reads every property as its raw stored value (``values``) and keeps child plugins."""

    def __init__(self, props):
        super().__init__(props)
        self.values = {}
        for name in props.names():
            props.mark_used(name)
            self.values[name] = props.entry(name).value
        self.children = props.children()


@register("shape", "tfake_mesh")
class FakeMesh(Plugin):
    """A unit square [-1, 1]^2 x {0} mapped by ``to_world``."""

    def __init__(self, props):
        super().__init__(props)
        self.to_world = props.get_transform("to_world")
        self.bsdf = props.get_plugin("bsdf", "bsdf")
        self.emitter = props.get_plugin("emitter", "emitter")
        self.filename = props.get_string("filename", None)
        local = np.array([[-1, -1, 0, 1], [1, -1, 0, 1], [1, 1, 0, 1], [-1, 1, 0, 1]], float)
        self.vertex_positions = (local @ self.to_world.T)[:, :3].astype(np.float32)


@register("emitter", "tfake_area")
class FakeArea(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.radiance = props.get_color("radiance", 1.0)


@register("emitter", "tfake_point")
class FakePoint(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.intensity = props.get_color("intensity", 1.0)
        self.position = props.get_point3("position", [0, 0, 0])


@register("emitter", "tfake_env")
class FakeEnv(Plugin):
    is_environment = True

    def __init__(self, props):
        super().__init__(props)
        self.radiance = props.get_color("radiance", 1.0)


@register("film", "tfake_film")
class FakeFilm(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.width = props.get_int("width", 32)
        self.height = props.get_int("height", 32)


@register("sampler", "tfake_sampler")
class FakeSampler(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.sample_count = props.get_int("sample_count", 4)


@register("sensor", "tfake_camera")
class FakeCamera(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.to_world = props.get_transform("to_world")
        self.fov = props.get_float("fov", 45.0)
        self.film = props.get_plugin("film", "film")
        self.sampler = props.get_plugin("sampler", "sampler")


@register("integrator", "tfake_integrator")
class FakeIntegrator(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.max_depth = props.get_int("max_depth", -1)


def real_plugins_available() -> bool:
    return all(importlib.util.find_spec(p) is not None for p in registry.PLUGIN_PACKAGES)


class StubRGB(Plugin):
    def __init__(self, props):
        super().__init__(props)
        self.value = props.get_color("value")


@pytest.fixture
def plugins(monkeypatch):
    """Real plugins if their packages exist; otherwise a stub ``rgb`` texture and a registry
    that does not try to import the missing packages."""
    if real_plugins_available():
        registry.ensure_plugins_loaded()
        yield "real"
        return
    monkeypatch.setattr(registry, "_plugins_loaded", True)
    register("texture", "rgb")(StubRGB)
    try:
        yield "stub"
    finally:
        registry.unregister("texture", "rgb")
