"""Integrator host configurations: path, prb, direct."""

import pytest

import taichi_render as tr


@pytest.mark.parametrize("type_name", ["path", "prb"])
def test_path_like_defaults_and_values(type_name):
    i = tr.load_dict({"type": type_name})
    assert (i.max_depth, i.rr_depth, i.hide_emitters) == (-1, 5, False)
    i = tr.load_dict({"type": type_name, "max_depth": 3, "rr_depth": 1, "hide_emitters": True})
    assert (i.max_depth, i.rr_depth, i.hide_emitters) == (3, 1, True)
    assert tr.load_dict({"type": type_name, "max_depth": 0}).max_depth == 0  # as Mitsuba


@pytest.mark.parametrize("type_name", ["path", "prb"])
@pytest.mark.parametrize(
    "d, what",
    [
        ({"max_depth": -2}, "'max_depth' must be -1 .* or >= 0, got -2"),
        ({"rr_depth": 0}, "'rr_depth' must be > 0"),
        ({"max_depth": "3"}, "'max_depth' expects an integer"),
        ({"max_depth": 3.0}, "'max_depth' expects an integer"),
        ({"hide_emitters": 1}, "'hide_emitters' expects a boolean"),
        ({"samples_per_pass": 4}, "unused property 'samples_per_pass'"),
    ],
)
def test_path_like_errors(type_name, d, what):
    with pytest.raises(tr.SceneError, match=what):
        tr.load_dict({"type": type_name, **d})


def test_direct():
    i = tr.load_dict({"type": "direct"})
    assert (i.emitter_samples, i.bsdf_samples, i.hide_emitters) == (1, 1, False)
    i = tr.load_dict({"type": "direct", "shading_samples": 4})
    assert (i.emitter_samples, i.bsdf_samples) == (4, 4)
    i = tr.load_dict(
        {"type": "direct", "emitter_samples": 2, "bsdf_samples": 0, "hide_emitters": True}
    )
    assert (i.emitter_samples, i.bsdf_samples, i.hide_emitters) == (2, 0, True)


@pytest.mark.parametrize(
    "d, what",
    [
        ({"shading_samples": 2, "bsdf_samples": 1}, "either 'shading_samples'"),
        ({"emitter_samples": -1}, "'emitter_samples' must be >= 0"),
        ({"max_depth": 2}, "unused property 'max_depth'"),
    ],
)
def test_direct_errors(d, what):
    with pytest.raises(tr.SceneError, match=what):
        tr.load_dict({"type": "direct", **d})
