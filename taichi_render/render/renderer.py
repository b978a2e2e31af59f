"""Rendering entry points: pack the scene once, set up the sensor, launch the integrator kernel.

The image of a sensor lives in a `ti.Vector.field(3, ti.f32, shape=(height, width))` owned by
that sensor and overwritten by each render of it (as the API promises).
"""

from __future__ import annotations

import contextlib
import math
import os

import numpy as np
import taichi as ti

from ..backend import current_arch, ensure_init, megakernel_compile
from . import layout as L
from .boundary.analytic_outlines import analytic_outlines_kernel, analytic_rows
from .boundary.bounced_point_shadows import bounced_shadow_kernel
from .boundary.indirect_edges import E3_WIDTH, EdgeTable3D, edge_table_3d, indirect_edges_kernel
from .boundary.point_shadow_edges import EDGES, OUTLINES, point_lights, point_shadow_kernel
from .boundary.primary_edges import (
    EF_A,
    EF_B,
    EF_S0,
    EF_S1,
    EdgeTopology,
    edge_samples_per_pixel,
    edge_table,
    filter_normalisation,
    primary_edges_kernel,
)
from .compile_notice import first_launch
from .device.camera import camera_table
from .device.film import develop_kernel, field_grad_to_ndarray
from .drivers.kernels import (
    INTEGRATOR_DIRECT,
    INTEGRATOR_PATH,
    MODE_ADJOINT,
    MODE_FORWARD,
    MODE_PRIMAL,
    render_border_kernel,
    render_kernel,
)
from .drivers.packet_kernels import TILE, render_packets_kernel
from .drivers.packet_state import KEPT_SLOTS
from .drivers.packet_trace import LANES
from .film_buffers import film_buffers
from .packing.scene_data import SceneData
from .state import render_state

vec3 = ti.math.vec3

_INTEGRATOR_CODES = {"path": INTEGRATOR_PATH, "prb": INTEGRATOR_PATH, "direct": INTEGRATOR_DIRECT,
                     "prb_projective": INTEGRATOR_PATH, "direct_projective": INTEGRATOR_PATH}
PROJECTIVE = ("prb_projective", "direct_projective")  # add primary_edges.py's boundary term
_MODES = {"primal": MODE_PRIMAL, "adjoint": MODE_ADJOINT, "forward": MODE_FORWARD}
MAX_SAMPLES_PER_LAUNCH = 1 << 30


def packets_enabled(arch: str | None = None) -> bool:
    """Whether `path`/`prb` render with 16-ray packets (packet_kernels.py) rather than one ray
    per thread (kernels.py).

    Packets are a CPU design (16 lanes fill one AVX-512 register of one thread); a GPU runs 32
    threads in lock step already, so one ray per thread is its default. The environment variable
    TR_PACKETS (1 or 0) overrides the choice on either arch.

    Args:
        arch: "cpu" or "cuda"; default: the arch `tr.init` chose.
    """
    forced = os.environ.get("TR_PACKETS")
    if forced is not None:
        return forced != "0"
    return (arch or current_arch() or "cpu") == "cpu"


def single_pass_replay(mode: str, max_depth: int, shape_terms: bool) -> bool:
    """Whether a derivative launch of the packet kernel replays each path in one pass
    (deferred_terms.py): paths of at most KEPT_SLOTS scattering vertices, no vertex-position
    or point-light position terms (`shape_terms`). Set the environment variable
    TR_SINGLE_PASS=0 to compare with two passes."""
    return (mode != "primal" and not shape_terms and 1 <= max_depth <= KEPT_SLOTS + 1
            and os.environ.get("TR_SINGLE_PASS", "1") != "0")


def scene_data(scene) -> SceneData:
    """The packed device data of `scene`, built on first use (`RenderState.packed`)."""
    return render_state(scene).packed()


def get_sensor(scene, sensor):
    sensors = scene.sensors()
    if isinstance(sensor, (int, np.integer)):
        if not 0 <= int(sensor) < len(sensors):
            raise IndexError(f"sensor index {sensor} out of range: the scene has {len(sensors)} sensor(s)")
        return sensors[int(sensor)]
    return sensor


def check_spp_seed(sensor, spp, seed) -> tuple[int, int]:
    if spp is None:
        spp = sensor.sampler().sample_count
    if isinstance(spp, bool) or not isinstance(spp, (int, np.integer)) or not 0 < spp < 2**31:
        raise ValueError(f"spp must be a positive integer below 2^31, got {spp!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(spp), int(seed) & 0xFFFFFFFF


def launch(scene, sensor, spp: int, seed: int, mode: str = "primal", sample_offset: int = 0,
           clear: bool = True, image_grad=None):
    """Run the integrator kernel for the sensor: primal or forward samples are added to the
    sensor's buffers (cleared first unless `clear` is False); adjoint reads `buf.image_grad`, or
    `image_grad` when given (an (H, W, 3) float32 array on Taichi's device, a torch tensor for
    instance, read in place)."""
    state = render_state(scene)
    data = state.packed()
    buf = film_buffers(sensor)
    cam = camera_table(sensor)
    if not np.array_equal(cam, data.np["cam"]):  # an upload is a kernel launch: skip it when unchanged
        data.np["cam"] = cam
        data.upload_one("cam")
    integ = scene.integrator()
    kind = integ.type_name
    if kind not in _INTEGRATOR_CODES:
        raise NotImplementedError(f"integrator {kind!r} cannot render")
    if kind == "direct":
        if mode != "primal":
            raise NotImplementedError("the 'direct' integrator is not differentiable: use 'prb'")
        int_a, int_b = int(integ.emitter_samples), int(integ.bsdf_samples)
    else:
        int_a, int_b = int(integ.max_depth), int(integ.rr_depth)
    rfilter = sensor.film().rfilter
    if rfilter.type_name == "box":
        rf, radius, stddev = L.RFILTER_BOX, 0.5, 0.5
    else:
        stddev = float(rfilter.stddev)
        rf, radius = L.RFILTER_GAUSSIAN, float(getattr(rfilter, "radius", 4.0 * stddev))
    hide = int(bool(integ.hide_emitters))
    grad_in = buf.image_grad if image_grad is None else image_grad
    packets = kind != "direct" and packets_enabled()
    # packets write a box-filtered film's first samples over the old contents (kernels.splat):
    # no clearing pass
    overwrite = clear and mode != "adjoint" and packets and rf == L.RFILTER_BOX
    if clear and mode != "adjoint" and not overwrite:
        buf.clear()
    if mode == "adjoint":
        mask = state.texture_mask()
        if data.np["scene_i"][L.SC_GRAD_TEXTURES] != mask:
            data.np["scene_i"][L.SC_GRAD_TEXTURES] = mask
            data.upload_one("scene_i")
    with megakernel_compile():
        if packets:
            # chunks of samples keep the packet kernel's sample index inside int32
            rows = len(cam) // L.CAM_WIDTH  # sub-images of a batch sensor, padded one by one
            padded_pixels = rows * -(-(buf.width // rows) // TILE) * TILE * -(-buf.height // TILE) * TILE
            per_launch = max(1, MAX_SAMPLES_PER_LAUNCH // padded_pixels)
            shape = state.wants_shape_terms(mode)
            single = single_pass_replay(mode, int_a, shape)
            for first in range(0, spp, per_launch):
                count = min(per_launch, spp - first)
                # a variant's first launch may compile it: say so (compile_notice.py)
                notice = (first_launch("render_packets_kernel", data.features, mode) if first == 0
                          else contextlib.nullcontext())
                with notice:
                    render_packets_kernel(
                        data.arrays(), *data.derivative_arrays(mode), buf.accum, buf.weight,
                        grad_in, data.features, _MODES[mode], seed, count, sample_offset + first,
                        int_a, int_b, hide, int(shape), int(single), rf, radius, stddev,
                        count // math.gcd(count, LANES), int(overwrite and first == 0),
                    )
        else:
            with first_launch("render_kernel", data.features, mode, _INTEGRATOR_CODES[kind]):
                render_kernel(
                    data.arrays(), *data.derivative_arrays(mode), buf.accum, buf.weight, grad_in,
                    data.features, _INTEGRATOR_CODES[kind], _MODES[mode], seed, spp, sample_offset,
                    int_a, int_b, hide, rf, radius, stddev,
                )
        border = film_border(sensor)
        if border > 0:
            with first_launch("render_border_kernel", data.features, mode, _INTEGRATOR_CODES[kind]):
                render_border_kernel(
                    data.arrays(), *data.derivative_arrays(mode), buf.accum, buf.weight, grad_in,
                    data.features, _INTEGRATOR_CODES[kind], _MODES[mode], seed, spp, sample_offset,
                    int_a, int_b, hide, rf, radius, stddev, border,
                )
        if kind in PROJECTIVE and mode != "primal" and sample_offset == 0 and state.wants_shape_terms(mode):
            launch_boundary_terms(scene, data, buf, integ, mode, seed, spp, grad_in, (int_a, int_b, hide),
                                  (rf, radius, stddev), border)
    return buf


def film_border(sensor) -> int:
    """Pixels the film samples around the image on each side: Mitsuba's rfilter `border_size`,
    ceil(radius - 0.5), when the film's `sample_border` is set (0 for the box filter), else 0."""
    film = sensor.film()
    if not getattr(film, "sample_border", False):
        return 0
    return max(0, math.ceil(float(getattr(film.rfilter, "radius", 0.5)) - 0.5 - 1e-6))


def camera_edge_table(topology, positions, tri_v, flat, cam: np.ndarray, width: int, height: int, moving,
                      border: int = 0):
    """`primary_edges.edge_table` for every camera of `cam` (the sub-sensors of a batch sensor,
    camera.py): each camera's edges clipped to its sub-image, in film pixels, in one table.
    `border`: pixels the film samples around the image (`film_border`); a batch sensor's
    sub-images take it on the film's outer sides only (top, bottom, the first's left and the
    last's right), where its ring samples are."""
    rows = len(cam) // L.CAM_WIDTH
    if rows == 1:
        return edge_table(topology, positions, tri_v, flat, cam, width, height, moving, (border,) * 4)
    sub_w = width // rows
    parts = []
    for row in range(rows):
        margin = (border if row == 0 else 0, border if row == rows - 1 else 0, border, border)
        table = edge_table(topology, positions, tri_v, flat, cam[row * L.CAM_WIDTH : (row + 1) * L.CAM_WIDTH],
                           sub_w, height, moving, margin)
        if table is not None:
            edge_f, edge_v = table[:2]
            edge_f[:, [EF_A, EF_B]] += row * sub_w  # x of both end points: the sub-image's columns
            parts.append((edge_f, edge_v))
    if not parts:
        return None
    edge_f = np.concatenate([p[0] for p in parts])
    # each edge's length on the film, as edge_table weighs them
    ends = edge_f[:, EF_B : EF_B + 2].astype(np.float64) - edge_f[:, EF_A : EF_A + 2]
    lengths = (edge_f[:, EF_S1].astype(np.float64) - edge_f[:, EF_S0]) * np.linalg.norm(ends, axis=1)
    total = float(lengths.sum())
    cdf = (np.cumsum(lengths) / total).astype(np.float32)
    cdf[-1] = 1.0
    return edge_f, np.concatenate([p[1] for p in parts]), cdf, total


def _device_arrays(*values) -> list:
    """Taichi ndarrays holding copies of numpy arrays: (A, B, 3) float32 as vec3 (A, B); other
    float32 as f32, int32 as i32, same shape."""
    arrays = []
    for value in values:
        if value.dtype == np.float32 and value.ndim == 3:
            array = ti.ndarray(ti.math.vec3, value.shape[:2])
        else:
            array = ti.ndarray(ti.i32 if value.dtype == np.int32 else ti.f32, value.shape)
        array.from_numpy(value)
        arrays.append(array)
    return arrays


def launch_boundary_terms(scene, data: SceneData, buf, integrator, mode: str, seed: int, spp: int, grad_in,
                          path_options: tuple, film_filter: tuple, border: int = 0) -> None:
    """The boundary terms of vertex- and point-light-position derivatives of the projective
    integrators: primary visibility (primary_edges.py, `sppp` edge samples per pixel) and
    indirect visibility (indirect_edges.py at mesh edges and analytic_outlines.py at the outlines
    of spheres and disks, `sppi` camera paths per pixel each; point-light shadows the camera sees,
    point_shadow_edges.py, `sppi` x W x H samples per stream, and those seen after a bounce,
    bounced_point_shadows.py, `sppi` camera paths per pixel), into the vertex gradients (adjoint) or
    onto the film's derivative samples (forward). `border`: pixels the film samples around the
    image (`film_border`), where the terms are integrated too."""
    topology = getattr(data, "edge_topology", None)
    if topology is None:
        topology = data.edge_topology = EdgeTopology(data.np["tri_v"], data.vertex_positions)
    if len(topology.faces) == 0:
        return
    flat = data.np["shape_i"][:, L.SI_HAS_NORMALS] != L.NORMALS_VERTEX
    state = render_state(scene)
    moving = state.moving_vertices(mode)
    vertices_move = bool(np.any(moving))
    lights_move = state.lights_move(mode)
    derivative = data.derivative_arrays(mode)
    targets = len(data.DERIVATIVE_TARGETS)
    vtx_index = data.DERIVATIVE_TARGETS.index("vtx")
    vertex_arrays = (derivative[vtx_index], derivative[targets + vtx_index])
    em_index = data.DERIVATIVE_TARGETS.index("emitter")
    emitter_arrays = (derivative[em_index], derivative[targets + em_index])
    normalisation = filter_normalisation(*film_filter)
    spp_i = spp if getattr(integrator, "sppi", None) is None else int(integrator.sppi)
    lights = point_lights(data)

    table = camera_edge_table(topology, data.vertex_positions, data.np["tri_v"], flat, data.np["cam"],
                              buf.width, buf.height, moving, border)
    if table is not None:
        edge_f, edge_v, cdf, total = table
        n_samples = edge_samples_per_pixel(integrator, spp) * buf.width * buf.height
        with first_launch("primary_edges_kernel", data.features, mode):
            primary_edges_kernel(
                data.arrays(), *vertex_arrays, *_device_arrays(edge_f, edge_v, cdf), buf.accum, buf.weight, grad_in,
                data.features, _MODES[mode], seed, n_samples, total / n_samples / normalisation,
                *path_options, *film_filter,
            )
    emitters = data.np["shape_i"][:, L.SI_EMITTER] >= 0
    # where only point lights move, every edge's shadow moves: all edges in the moving rows
    table = edge_table_3d(topology, data.vertex_positions, data.np["tri_v"], flat,
                          moving if vertices_move or not (lights_move and len(lights)) else None, emitters)
    if table is not None and path_options[0] != 1:
        ends, info, cdf, moving_vtx = _device_arrays(table.ends, table.info, table.cdf, moving.astype(np.int32))
        per_sample = 1.0 / spp_i / normalisation
        if vertices_move:
            with first_launch("indirect_edges_kernel", data.features, mode):
                indirect_edges_kernel(
                    data.arrays(), *vertex_arrays, ends, info, cdf, moving_vtx, table.moving_edges, buf.accum,
                    buf.weight, grad_in, data.features, _MODES[mode], seed ^ 0x9E3779B9, spp_i,
                    table.moving_length * per_sample, table.total_length * per_sample, *path_options,
                    *film_filter, border,
                )
            rows = analytic_rows(data.np["shape_i"])
            if len(rows):
                rows, = _device_arrays(rows)
                with first_launch("analytic_outlines_kernel", data.features, mode):
                    analytic_outlines_kernel(
                        data.arrays(), *vertex_arrays, rows, moving_vtx, buf.accum, buf.weight, grad_in,
                        data.features, _MODES[mode], seed ^ 0x0C7E11F5, spp_i, per_sample, *path_options,
                        *film_filter, border,
                    )
        if len(lights):
            _launch_point_shadows(data, buf, table, mode, seed, spp_i, lights, lights_move, vertex_arrays,
                                  emitter_arrays, (ends, info, cdf, moving_vtx), grad_in, path_options, film_filter,
                                  border)
    elif lights_move and len(lights) and path_options[0] != 1:
        # no edge table: a scene of spheres and disks (its one placeholder triangle is degenerate),
        # or marked meshes without a moving edge of nonzero length (their static edges' shadows
        # under the moving light are then left out); spheres and disks cast shadows that move
        _launch_point_shadows(data, buf, None, mode, seed, spp_i, lights, lights_move, vertex_arrays,
                              emitter_arrays, None, grad_in, path_options, film_filter, border)


def _launch_point_shadows(data: SceneData, buf, table, mode: str, seed: int, spp_i: int, lights: np.ndarray,
                          lights_move: bool, vertex_arrays, emitter_arrays, edge_arrays, grad_in, path_options: tuple,
                          film_filter: tuple, border: int) -> None:
    """The point-light shadow terms of launch_boundary_terms: those the camera sees
    (point_shadow_edges.py) and those seen after a bounce (bounced_point_shadows.py), cast by
    mesh edges (`table`: EdgeTable3D; `edge_arrays`: its ends, info and cdf on the device, and
    the moving-vertex marks; both None in a scene without meshes) and by the outlines of spheres
    and disks."""
    if table is None:  # no edges; one-row placeholders that the outline launches read, never use
        table = EdgeTable3D(np.zeros((0, 2, 3), np.float32), np.zeros((0, E3_WIDTH), np.int32),
                            np.zeros(0, np.float32), 0, 0.0, 0.0)
        edge_arrays = _device_arrays(np.zeros((1, 2, 3), np.float32), np.full((1, E3_WIDTH), -1, np.int32),
                                     np.ones(1, np.float32), np.zeros(1, np.int32))
    has_edges = len(table.info) > 0
    ends, info, cdf, moving_vtx = edge_arrays
    light_rows, = _device_arrays(lights)
    outline_rows = analytic_rows(data.np["shape_i"])
    rows = _device_arrays(outline_rows)[0] if len(outline_rows) else light_rows  # unread without outlines
    normalisation = filter_normalisation(*film_filter)
    n_samples = spp_i * buf.width * buf.height
    per_sample = len(lights) / n_samples / normalisation
    # the camera sees them: sppi x W x H samples of the moving edges, as many of all edges for static
    # ones seen on moving receivers or under moving lights, and as many of the outlines
    static_edges = len(table.info) > table.moving_edges
    streams = [(EDGES, 0, table.moving_length)] * has_edges + [(EDGES, 1, table.total_length)] * static_edges
    streams += [(OUTLINES, 0, 1.0)] * bool(len(outline_rows))
    for stream, (occluders, all_edges, length) in enumerate(streams):
        with first_launch("point_shadow_kernel", data.features, mode, f"occluders={occluders}"):
            point_shadow_kernel(
                data.arrays(), *vertex_arrays, *emitter_arrays, ends, info, cdf, table.moving_edges,
                moving_vtx, light_rows, rows, buf.accum, buf.weight, grad_in, data.features, _MODES[mode], occluders,
                seed ^ (0x51ED270B + stream), n_samples, length * per_sample, all_edges, int(lights_move),
                *film_filter, border,
            )
    if not 0 < path_options[0] <= 2:
        # seen after a bounce: sppi camera paths per pixel over the moving edges (all edges when
        # lights move), as many over all edges for the static ones, whose shadows move on moving
        # receivers and as seen from moving vertices, and as many over the outlines
        per_path = 1.0 / spp_i / normalisation
        passes = [(EDGES, 0, int(lights_move), table.total_length if lights_move else table.moving_length)] * has_edges
        if static_edges and not lights_move:
            passes.append((EDGES, 1, 1, table.total_length))
        if len(outline_rows):
            passes.append((OUTLINES, int(not lights_move), 0, 1.0))
        for index, (occluders, static_only, all_edges, length) in enumerate(passes):
            with first_launch("bounced_shadow_kernel", data.features, mode, f"occluders={occluders}"):
                bounced_shadow_kernel(
                    data.arrays(), *vertex_arrays, *emitter_arrays, ends, info, cdf, moving_vtx, light_rows, rows,
                    buf.accum, buf.weight, grad_in, data.features, _MODES[mode], occluders,
                    seed ^ (0x2545F491 + index), spp_i, length * per_path, table.moving_edges,
                    all_edges, static_only, *path_options, *film_filter, border,
                )


def launch_primal(scene, sensor, spp: int, seed: int, sample_offset: int = 0, clear: bool = True):
    """Add `spp` primal samples per pixel into the sensor's buffers."""
    return launch(scene, sensor, spp, seed, "primal", sample_offset, clear)


def develop(sensor, target: ti.Field | None = None) -> ti.Field:
    """Normalise the accumulated samples and copy them into `target` (default: the sensor's
    image field)."""
    buf = film_buffers(sensor)
    if target is None:
        target = buf.image
    develop_kernel(buf.accum, buf.weight, target)
    return target


def derive_seed_grad(seed: int) -> int:
    """Default seed of the adjoint pass: a hash of `seed`, never equal to it."""
    value = (seed * 0x9E3779B1 + 0x7F4A7C15) & 0xFFFFFFFF
    return value if value != seed else (value + 1) & 0xFFFFFFFF


def render(scene, params=None, sensor=0, spp=None, seed=0, seed_grad=None) -> ti.Field:
    """Render `scene` and return the sensor's image field (height, width) of vec3 f32.

    Differentiable under ``ti.ad.Tape``: the backward pass replays paths (path replay
    backpropagation) with `seed_grad` (default: derived from `seed`, never equal to it) and
    accumulates the gradients of the texture values (reflectances, emitted radiance, bitmap
    texels) that ``params.enable_grad`` or an optimizer marked (every texture of a scene with no
    marked key), read through ``params.grad(key)``."""
    ensure_init()
    sensor_obj = get_sensor(scene, sensor)
    spp, seed = check_spp_seed(sensor_obj, spp, seed)
    if seed_grad is None:
        seed_grad = derive_seed_grad(seed)
    elif isinstance(seed_grad, bool) or not isinstance(seed_grad, (int, np.integer)) or seed_grad < 0:
        raise ValueError(f"seed_grad must be a non-negative integer, got {seed_grad!r}")
    if params is not None and hasattr(params, "flush"):
        params.flush()
    # positional arguments only: ti.ad.Tape replays recorded calls without keywords
    _render_recorded(scene, sensor_obj, spp, seed, int(seed_grad) & 0xFFFFFFFF)
    return film_buffers(sensor_obj).image


@ti.ad.grad_replaced
def _render_recorded(scene, sensor, spp, seed, seed_grad):
    tape = ti.lang.impl.get_runtime().target_tape
    if tape is not None:
        data = scene_data(scene)
        if data.grad_tape is not tape:  # a new Tape: gradients start from zero
            data.zero_gradients()
            data.grad_tape = tape
    launch(scene, sensor, spp, seed, "primal")
    develop(sensor)


@ti.ad.grad_for(_render_recorded)
def _render_adjoint(scene, sensor, spp, seed, seed_grad):
    buf = film_buffers(sensor)
    field_grad_to_ndarray(buf.image, buf.image_grad)
    launch(scene, sensor, spp, seed_grad, "adjoint")


def render_forward_tangents(scene, sensor, tangents: dict, spp: int, seed: int) -> ti.Field:
    """Forward-mode image d(image)/d(theta) along the given texture tangents
    ({"tex_rgb": (X, 3), "texels": (Q, 3)}); returns a field of the image's shape."""
    data = scene_data(scene)
    data.set_tangents(tangents)
    launch(scene, sensor, spp, seed, "forward")
    buf = film_buffers(sensor)
    if buf.derivative is None:
        buf.derivative = ti.Vector.field(3, ti.f32, shape=(buf.height, buf.width))
    return develop(sensor, buf.derivative)
