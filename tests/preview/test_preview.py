"""Live preview: composition, keys, animations, and every backend, including the GGUI ones.

GGUI can take a process down (NOTES.md, "GGUI"), so everything that opens a window runs in a
child process; this process only uses the "frames" backend. The window tests need Xvfb and the
off-screen ones software Vulkan (`.ci/install_system_deps.sh` installs both); they skip without.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
import textwrap

import imageio.v3 as iio
import numpy as np
import pytest

import taichi_render as tr
from taichi_render.preview import Controls, Preview, choose_backend
from taichi_render.preview.controls import ESCAPE, SPACE, wait_while_paused

ROOT = pathlib.Path(__file__).resolve().parents[2]
H, W = 24, 32


def gradient(h=H, w=W, t=0.0) -> np.ndarray:
    """Linear (H, W, 3) float32: top row pure red, green grows to the right, blue downwards."""
    img = np.zeros((h, w, 3), np.float32)
    img[..., 1] = np.linspace(0.0, 0.8, w)[None, :] * (1.0 - t)
    img[..., 2] = np.linspace(0.0, 0.8, h)[:, None] * t
    img[0] = (1.0, 0.0, 0.0)
    return img


def expected_u8(img) -> np.ndarray:
    return np.round(tr.tonemap(img) * 255).astype(np.uint8)


def child_env(**changes) -> dict:
    env = dict(os.environ)
    env.pop("TR_PREVIEW_BACKEND", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    for key, value in changes.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return env


def run_child(tmp_path, body: str, env: dict, helpers: str = "",
              timeout: float = 120) -> subprocess.CompletedProcess:
    """Run `body` as a script file (Taichi needs kernels in files) in a fresh process."""
    script = tmp_path / "child.py"
    script.write_text(CHILD_PRELUDE + helpers + textwrap.dedent(body))
    return subprocess.run([sys.executable, str(script)], check=False, cwd=tmp_path, env=env,
                          timeout=timeout, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL)


CHILD_PRELUDE = textwrap.dedent(f"""
    import sys, time, warnings
    import numpy as np
    sys.path.insert(0, {str(ROOT)!r})
    sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})
    import taichi_render as tr
    from taichi_render.preview import Preview
    from test_preview import gradient
    tr.init("cpu")
""")

# XTest key presses from the child itself (libXtst ships with Xvfb's dependencies).
XKEYS = textwrap.dedent("""
    import ctypes, ctypes.util
    X11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
    XT = ctypes.CDLL(ctypes.util.find_library("Xtst") or "libXtst.so.6")
    X11.XOpenDisplay.restype = ctypes.c_void_p
    X11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    X11.XKeysymToKeycode.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
    X11.XKeysymToKeycode.restype = ctypes.c_ubyte
    X11.XFlush.argtypes = X11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    XT.XTestFakeKeyEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
    XT.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p] + [ctypes.c_int] * 3 + [ctypes.c_ulong]

    def press(key):
        d = X11.XOpenDisplay(None)
        XT.XTestFakeMotionEvent(d, -1, 120, 120, 0)  # GGUI opens at (100, 100); focus follows
        code = X11.XKeysymToKeycode(d, {"Escape": 0xFF1B, " ": 0x20}[key])
        XT.XTestFakeKeyEvent(d, code, 1, 0)
        XT.XTestFakeKeyEvent(d, code, 0, 0)
        X11.XFlush(d)
        X11.XCloseDisplay(d)
""")


def _vulkan_installed() -> bool:
    icd = pathlib.Path("/usr/share/vulkan/icd.d")
    return icd.is_dir() and any(icd.glob("lvp_icd*.json"))


needs_vulkan = pytest.mark.skipif(not _vulkan_installed(),
                                  reason="software Vulkan (mesa-vulkan-drivers) not installed")


@pytest.fixture(scope="module")
def xvfb():
    """A private X server; yields its DISPLAY string (a free number, chosen by Xvfb)."""
    exe = shutil.which("Xvfb")
    if exe is None:
        pytest.skip("Xvfb not installed (.ci/install_system_deps.sh)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen([exe, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24",
                             "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        number = pipe.readline().strip()
    if not number:
        proc.kill()
        pytest.skip("Xvfb did not start")
    yield f":{number}"
    proc.terminate()
    proc.wait(timeout=10)


# ---- keys: pause and stop, without a keyboard ----


def test_space_toggles_pause_and_escape_stops_for_good():
    c = Controls()
    c.handle_keys([SPACE])
    assert c.paused and c.running
    c.handle_keys([SPACE])
    assert not c.paused
    c.handle_keys([SPACE, ESCAPE, SPACE])
    assert c.stopped and not c.paused and not c.running
    assert c.status() == "stopped"


def test_wait_while_paused_redraws_until_space_or_escape():
    c = Controls()
    c.handle_key(SPACE)
    script = iter([[], ["a"], [SPACE]])
    redraws = []
    assert wait_while_paused(c, lambda: next(script), lambda: redraws.append(1),
                             sleep=lambda s: None)
    assert len(redraws) == 3 and not c.paused
    c.handle_key(SPACE)
    script = iter([[], [ESCAPE]])
    assert not wait_while_paused(c, lambda: next(script), lambda: None, sleep=lambda s: None)


class FakeKeys:
    """Stands in for a window: an interactive view whose key presses are scripted."""

    interactive = True

    def __init__(self, script):
        self.script, self.draws = list(script), []

    def draw(self, frame, lines, status, read_back):
        self.draws.append(status)

    def poll_keys(self):
        return self.script.pop(0) if self.script else []

    def close(self):
        pass


def test_update_blocks_while_paused_and_returns_false_after_escape():
    pv = Preview(backend="frames")
    pv._view = FakeKeys([[SPACE], [], [], [SPACE], [ESCAPE]])
    assert pv.update(gradient(), loss=1.0)  # paused after drawing, unpaused by the 2nd space
    assert pv._view.draws == ["running", "paused", "paused", "paused"]
    assert not pv.update(gradient(), loss=0.5)  # Esc arrives after this frame
    assert not pv.update(gradient(), loss=0.25)  # stays stopped; nothing drawn any more
    assert len(pv._view.draws) == 5 and len(pv.history["loss"]) == 2


# ---- composition (frames backend, in this process) ----


def test_frame_shows_tonemapped_current_target_and_inputs_of_every_kind():
    import taichi as ti

    torch = pytest.importorskip("torch")
    target = gradient(t=1.0)
    field = ti.Vector.field(3, ti.f32, shape=(H, W))
    with Preview(target, backend="frames", scale=1) as pv:
        for image in [gradient(), torch.from_numpy(gradient()).requires_grad_()]:
            assert pv.update(image, loss=torch.tensor(0.5), it=3, red=torch.ones(3))
            frame = pv.last_frame
            np.testing.assert_array_equal(frame[:H, :W], expected_u8(gradient()))
            np.testing.assert_array_equal(frame[:H, W:2 * W], expected_u8(target))
            assert frame[:H, 2 * W:3 * W].any()  # heat map of a nonzero difference
        field.from_numpy(gradient())
        pv.update(field, loss=0.1)
        np.testing.assert_array_equal(pv.last_frame[:H, :W], expected_u8(gradient()))
    assert pv.history["it"][:2] == [3, 3] and pv.backend == "frames"
    late = Preview(backend="frames", scale=1)
    late.set_target(target)  # e.g. once the reference is rendered inside the optimization
    late.update(gradient())
    np.testing.assert_array_equal(late.last_frame[:H, W:2 * W], expected_u8(target))
    no_target = Preview(backend="frames")
    no_target.update(gradient())
    with pytest.raises(RuntimeError, match="without a target"):
        no_target.set_target(target)
    with pytest.raises(ValueError, match="shape"):
        Preview(target, backend="frames").update(gradient(h=H + 1))


def test_loss_curve_is_drawn_and_falls():
    with Preview(backend="frames", scale=1, strip_height=100) as pv:
        for it in range(50):
            pv.update(gradient(), loss=10.0 ** (-it / 10))
    strip = pv.last_frame[H + 24:]
    curve = np.all(strip == np.array([255, 160, 40], np.uint8), axis=2)
    cols = np.nonzero(curve.any(axis=0))[0]
    assert cols.size > 100
    first_row = np.nonzero(curve[:, cols[0]])[0].mean()
    last_row = np.nonzero(curve[:, cols[-1]])[0].mean()
    assert first_row < last_row  # high loss at the top-left, low at the bottom-right


def test_fake_optimization_writes_a_gif_whose_frames_change(tmp_path):
    n = 6
    with Preview(gradient(t=1.0), backend="frames", record=True) as pv:
        for it in range(n):
            t = it / (n - 1)
            pv.update(gradient(t=t), loss=(1 - t) ** 2 + 1e-3, it=it, t=t)
        pv.save_animation(tmp_path / "run.gif", fps=20)
        pv.save_frame(tmp_path / "last.png")
    frames = iio.imread(tmp_path / "run.gif", index=None)
    assert frames.shape[0] == n
    assert frames.shape[1:3] == pv.frames[0].shape[:2]
    assert np.abs(frames[0].astype(int) - frames[-1].astype(int)).max() > 50
    np.testing.assert_array_equal(iio.imread(tmp_path / "last.png"), pv.frames[-1])


def test_animation_errors_are_clear(tmp_path):
    pv = Preview(backend="frames")
    with pytest.raises(RuntimeError, match="record=True"):
        pv.save_animation(tmp_path / "a.gif")
    with pytest.raises(RuntimeError, match="update"):
        pv.save_frame(tmp_path / "a.png")
    pv = Preview(backend="frames", record=True)
    pv.update(gradient())
    with pytest.raises(ValueError, match="gif"):
        pv.save_animation(tmp_path / "a.bmp")
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        with pytest.raises(RuntimeError, match="imageio-ffmpeg"):
            pv.save_animation(tmp_path / "a.mp4")


def test_backend_choice_without_vulkan_or_display_needs_no_child(monkeypatch):
    monkeypatch.setenv("VK_ICD_FILENAMES", "/nonexistent.json")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("TR_PREVIEW_BACKEND", raising=False)
    assert choose_backend(True) == ("frames", "DISPLAY is not set")
    backend, reason = choose_backend(False)
    assert backend == "frames" and "nonexistent" in reason
    monkeypatch.setenv("DISPLAY", ":12345")
    assert choose_backend(True)[0] == "frames"  # DISPLAY names no server: XOpenDisplay fails
    with pytest.raises(RuntimeError, match="not available"):
        choose_backend(False, backend="offscreen")


def test_only_rank_zero_of_a_distributed_run_shows_a_preview(monkeypatch, recwarn):
    monkeypatch.delenv("TR_PREVIEW_BACKEND", raising=False)
    monkeypatch.setenv("RANK", "1")  # as torchrun sets it, before any process group exists
    backend, reason = choose_backend(True)
    assert backend == "frames" and "rank 1" in reason
    assert choose_backend(True, backend="frames") == ("frames", "")  # a forced backend is kept
    pv = Preview(show_window=True, scale=1)
    assert pv.backend == "frames" and not recwarn.list  # silent: not a failure on rank 1
    pv.close()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.delenv("DISPLAY", raising=False)
    assert choose_backend(True) == ("frames", "DISPLAY is not set")  # rank 0 chooses as usual


def test_notebook_view_outside_a_kernel_does_not_fail(capsys):
    pytest.importorskip("IPython")
    with Preview(backend="notebook", inline="display", min_interval=0.0) as pv:
        for it in range(3):
            assert pv.update(gradient(t=it / 2), loss=1.0 / (it + 1))
    assert pv.backend == "notebook"


# ---- GGUI backends, each in a child process ----


@needs_vulkan
def test_offscreen_frames_match_the_images_with_y_up(tmp_path):
    result = run_child(tmp_path, """
        import taichi as ti
        field = ti.Vector.field(3, ti.f32, shape=gradient().shape[:2])
        with Preview(gradient(t=1.0), show_window=False, scale=1, record=True,
                     frames_dir="frames") as pv:
            assert pv.backend == "offscreen", pv.backend
            pv.update(gradient(), loss=1.0, it=0, red=[0.1, 0.2, 0.3])
            field.from_numpy(gradient(t=0.5))
            pv.update(field, loss=0.5, it=1)
            pv.save_frame("last.png")
        print("BACKEND", pv.backend)
        # A second window closes the first (two open GGUI windows segfault on destroy).
        first = Preview(show_window=False)
        first.update(gradient())
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            second = Preview(show_window=False)
            second.update(gradient())
        assert any("previous preview window" in str(w.message) for w in caught)
        assert first._view.window is None
        assert first.update(gradient())  # the superseded preview keeps composing frames
        second.close()
        first.close()
    """, child_env(DISPLAY=None))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "BACKEND offscreen" in result.stdout
    first = iio.imread(tmp_path / "frames" / "frame_00000.png")
    last = iio.imread(tmp_path / "last.png")
    # What GGUI read back, panel by panel: top row red, so the y-up flip is right.
    assert np.abs(first[:H, :W].astype(int) - expected_u8(gradient())).max() <= 1
    assert np.abs(first[:H, W:2 * W].astype(int) - expected_u8(gradient(t=1.0))).max() <= 1
    assert np.abs(last[:H, :W].astype(int) - expected_u8(gradient(t=0.5))).max() <= 1
    assert tuple(first[0, W // 2]) == (255, 0, 0) and tuple(first[H - 1, W // 2]) != (255, 0, 0)


@needs_vulkan
def test_window_under_xvfb_updates_pauses_stops_and_closes(tmp_path, xvfb):
    result = run_child(tmp_path, """
        import threading
        with Preview(gradient(t=1.0), show_window=True, scale=2, record=True) as pv:
            assert pv.backend == "window", (pv.backend, pv.fallback_reason)
            for it in range(3):
                assert pv.update(gradient(t=it / 4), loss=1.0 / (it + 1), it=it, t=it / 4)
            pv.save_frame("window.png")
            try:  # what X shows: the window's top-left pixels are the red top row
                from PIL import ImageGrab
                shot = np.asarray(ImageGrab.grab())
                print("SCREEN", *shot[101, 110], *shot[100 + 2 * 24 - 1, 110])
            except Exception as exc:
                print("no screenshot:", exc)
            press(" ")  # pause; a timer unpauses while update() blocks
            time.sleep(0.2)
            threading.Timer(0.5, press, args=(" ",)).start()
            t0 = time.perf_counter()
            assert pv.update(gradient(), loss=0.1, it=3)
            print("PAUSED", round(time.perf_counter() - t0, 2))
            press("Escape")
            time.sleep(0.2)
            stopped_at = next((i for i in range(20)
                               if not pv.update(gradient(), loss=0.1, it=4 + i)), None)
            print("STOPPED", stopped_at)
        print("CLOSED", pv.backend)
    """, child_env(DISPLAY=xvfb), helpers=XKEYS)
    assert result.returncode == 0, result.stderr[-2000:]
    out = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert "CLOSED" in out and out["STOPPED"] != "None"
    assert float(out["PAUSED"]) >= 0.4
    assert not (tmp_path / "imgui.ini").exists()  # Dear ImGui's layout file is cleaned up
    frame = iio.imread(tmp_path / "window.png")
    np.testing.assert_array_equal(frame[:2 * H:2, :2 * W:2], expected_u8(gradient(t=0.5)))
    if "SCREEN" in out:
        top, bottom = np.array(out["SCREEN"].split(), int).reshape(2, 3)
        assert tuple(top) == (255, 0, 0) and tuple(bottom) != (255, 0, 0)


@needs_vulkan
def test_offscreen_preview_after_a_closed_window_prints_nothing(tmp_path, xvfb):
    """Destroying a shown GGUI window terminates GLFW; an off-screen one opened afterwards works
    but GGUI prints a GLFW error line from C++, which the view drops (other lines pass)."""
    result = run_child(tmp_path, """
        with Preview(gradient(t=1.0), show_window=True) as pv:
            assert pv.backend == "window", (pv.backend, pv.fallback_reason)
            pv.update(gradient(), loss=1.0)
        with Preview(gradient(t=1.0), show_window=False, record=True) as pv:
            assert pv.backend == "offscreen", (pv.backend, pv.fallback_reason)
            pv.update(gradient(), loss=1.0)
            assert pv.frames and pv.frames[0].any()
        print("DONE")
    """, child_env(DISPLAY=xvfb))
    assert result.returncode == 0, result.stderr[-2000:]
    assert "DONE" in result.stdout
    assert "GLFW" not in result.stderr, result.stderr[-2000:]


@pytest.mark.parametrize("icd", ["/nonexistent.json", "bogus"])
def test_fallback_without_vulkan_and_display_keeps_the_process_alive(tmp_path, icd):
    if icd == "bogus":  # the file exists, so only the child probe can find out
        icd = str(tmp_path / "bogus_icd.json")
        pathlib.Path(icd).write_text('{"file_format_version": "1.0.0", "ICD": '
                                     '{"library_path": "/nonexistent/libvk.so"}}')
    result = run_child(tmp_path, """
        for show in (True, False):
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                pv = Preview(gradient(t=1.0), show_window=show, record=True)
            assert pv.backend in ("notebook", "frames"), pv.backend
            assert any("no GGUI window" in str(w.message) for w in caught)
            for it in range(3):
                assert pv.update(gradient(t=it / 2), loss=1.0 / (it + 1), it=it, mesh=cone())
            pv.save_frame(f"fallback_{show}.png")
            pv.close()
            print("BACKEND", show, pv.backend, pv.fallback_reason)
    """, child_env(VK_ICD_FILENAMES=icd, DISPLAY=None, VK_DRIVER_FILES=None),
                       helpers="from test_preview import cone\n")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.count("BACKEND") == 2
    frame = iio.imread(tmp_path / "fallback_True.png")
    np.testing.assert_array_equal(frame[:H * 8:8, :W * 8:8], expected_u8(gradient(t=1.0)))
    panel = frame[:H * 8, 3 * W * 8:3 * W * 8 + H * 8]  # the mesh, rasterised in numpy
    assert 0.05 < mesh_mask(panel).mean() < 0.7 and not mesh_mask(panel)[[0, -1]].any()


@pytest.mark.parametrize("inline", ["display", "widgets"])
def test_inline_fallback_in_a_jupyter_kernel(tmp_path, inline):
    """No Vulkan, no display, inside a real kernel: the preview appears inline."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    cells = [
        (f"import os, sys\nsys.path.insert(0, {str(ROOT)!r})\n"
         f"sys.path.insert(0, {str(pathlib.Path(__file__).parent)!r})\n"
         "os.environ['VK_ICD_FILENAMES'] = '/nonexistent.json'\nos.environ.pop('DISPLAY', None)"),
        ("import warnings\nwarnings.simplefilter('ignore')\nimport taichi_render as tr\n"
        "from taichi_render.preview import Preview\nfrom test_preview import gradient\n"
        "tr.init('cpu')\n"
        f"with Preview(gradient(t=1.0), inline={inline!r}, min_interval=0.0) as pv:\n"
        "    for it in range(3):\n"
        "        pv.update(gradient(t=it / 2), loss=1.0 / (it + 1), it=it)\n"
        "print('BACKEND', pv.backend)"),
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[1].outputs
    assert any("BACKEND notebook" in o.get("text", "") for o in outputs)
    mime = "image/png" if inline == "display" else "application/vnd.jupyter.widget-view+json"
    assert any(mime in o.get("data", {}) for o in outputs)


# ---- the mesh panel (shape optimization) ----

MESH_BG = np.array([34, 34, 40], np.uint8)  # mesh_view.BACKGROUND
OUTLINE = np.array([90, 210, 255], np.uint8)  # mesh_view.OUTLINE


def cone(n=24, height=1.5, shift=(0.0, 0.0, 0.0)):
    """A closed cone pointing up (+y): apex, base ring, base centre; (V, 3) float32, (F, 3)."""
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    ring = np.stack([0.5 * np.cos(a), np.full(n, -0.5), 0.5 * np.sin(a)], axis=1)
    v = np.concatenate([[[0.0, height - 0.5, 0.0]], ring, [[0.0, -0.5, 0.0]]]) + shift
    i = np.arange(n)
    faces = np.concatenate([np.stack([np.zeros(n, int), 1 + (i + 1) % n, 1 + i], axis=1),
                            np.stack([np.full(n, n + 1), 1 + i, 1 + (i + 1) % n], axis=1)])
    return v.astype(np.float32), faces.astype(np.int32)


def mesh_mask(panel: np.ndarray) -> np.ndarray:
    """Pixels of the panel that are neither background nor outline: the mesh."""
    return ~np.all(panel == MESH_BG, axis=2) & ~np.all(panel == OUTLINE, axis=2)


def test_mesh_panel_is_drawn_next_to_the_images_and_follows_the_mesh():
    import taichi as ti

    torch = pytest.importorskip("torch")
    v, f = cone()
    side = 4 * H  # scale 4: the panel is as high as the scaled images
    with Preview(gradient(t=1.0), backend="frames", scale=4, mesh_orbit=0) as pv:
        pv.update(gradient(), loss=1.0, mesh=(v, f))
        first = pv.last_frame
        panel = first[:side, 3 * 4 * W:3 * 4 * W + side]
        assert first.shape == (side + pv.strip_height, max(3 * 4 * W + side, 480), 3)
        np.testing.assert_array_equal(first[:side, :4 * W:4][::4], expected_u8(gradient()))
        mask = mesh_mask(panel)
        assert 0.1 < mask.mean() < 0.7  # fitted into the panel, with a margin all round
        assert not mask[[0, -1]].any() and not mask[:, [0, -1]].any()
        rows = mask.sum(axis=1)
        top, bottom = np.nonzero(rows)[0][[0, -1]]
        assert rows[top + 3] < rows[bottom - 3]  # apex up: y is up in the panel
        pv.update(gradient(), loss=0.9)  # no mesh: the last one is shown again
        np.testing.assert_array_equal(pv.last_frame[:side, 3 * 4 * W:], first[:side, 3 * 4 * W:])
        field = ti.Vector.field(3, ti.f32, shape=len(v))  # Taichi field, flat int faces
        field.from_numpy(v)
        pv.update(gradient(), loss=0.8, mesh=(field, f.ravel()))
        np.testing.assert_array_equal(pv.last_frame[:side, 3 * 4 * W:3 * 4 * W + side], panel)
        moved = torch.from_numpy(v + np.float32([0.3, 0.0, 0.0]))  # torch, vertices alone
        pv.update(gradient(), loss=0.7, mesh=moved)
        moved_panel = pv.last_frame[:side, 3 * 4 * W:3 * 4 * W + side]
        assert (mesh_mask(moved_panel) != mask).sum() > 0.05 * mask.sum()
        assert pv.mesh[1] is not None and len(pv.mesh[1]) == len(f)
    turning = Preview(backend="frames", scale=4, mesh_orbit=30.0)
    lopsided = cone(shift=(0.0, 0.0, 0.0))
    lopsided[0][0] = (0.4, 1.0, 0.0)  # apex off the axis: the view turns with the orbit
    turning.update(gradient(), mesh=lopsided)
    a = turning.last_frame.copy()
    turning.update(gradient(), mesh=lopsided)
    assert (a != turning.last_frame).any()


def test_target_mesh_is_outlined_and_a_bad_one_is_refused():
    v, f = cone()
    pv = Preview(backend="frames", scale=4, target_mesh=(v * 1.2, f), mesh_orbit=0)
    pv.update(gradient(), mesh=(v, f))
    panel = pv.last_frame[:4 * H, 4 * W:4 * W + 4 * H]
    outline = np.all(panel == OUTLINE, axis=2)
    assert outline.sum() > 2 * 4 * H  # a closed curve around the smaller cone
    assert not (outline & mesh_mask(panel)).any()
    ys, xs = np.nonzero(outline)
    my, mx = np.nonzero(mesh_mask(panel))
    assert ys.min() < my.min() and ys.max() > my.max()  # the bigger target encloses the mesh
    assert xs.min() < mx.min() and xs.max() > mx.max()
    only_target = Preview(backend="frames", scale=4, target_mesh=(v, f))
    only_target.update(gradient())  # panel from the first frame, the outline before any mesh
    assert only_target.last_frame.shape[1] == max(4 * W + 4 * H, 480)
    panel = only_target.last_frame[:4 * H, 4 * W:4 * W + 4 * H]
    assert np.all(panel == OUTLINE, axis=2).sum() > 2 * 4 * H and not mesh_mask(panel).any()
    with pytest.raises(ValueError, match="target_mesh faces index 99"):
        Preview(backend="frames", target_mesh=(v, np.full((2, 3), 99)))


@pytest.mark.parametrize("bad, message", [
    ("shape", r"mesh vertices must have shape \(V, 3\)"),
    ("range", "mesh faces index 26 is out of range for 26 vertices"),
    ("negative", "mesh faces index -1"),
    ("float_faces", "mesh faces must be integers"),
    ("triple", r"mesh must be \(vertices, faces\)"),
    ("alone", "vertices alone need faces"),
])
def test_bad_mesh_raises_a_clear_error_and_changes_nothing(bad, message):
    v, f = cone()
    pv = Preview(backend="frames", scale=2, mesh_orbit=0)
    if bad != "alone":
        pv.update(gradient(), loss=1.0, mesh=(v, f))
    before = (pv.last_frame, list(pv.history["loss"]), pv.mesh, pv._count)
    mesh = {"shape": (v[:, :2], f), "range": (v, np.where(f == 25, 26, f)),
            "negative": (v, np.where(f == 0, -1, f)), "float_faces": (v, f.astype(np.float32)),
            "triple": (v, f, f), "alone": v}[bad]
    with pytest.raises(ValueError, match=message):
        pv.update(gradient(t=1.0), loss=0.5, mesh=mesh)
    after = (pv.last_frame, pv.history["loss"], pv.mesh, pv._count)
    assert after[0] is before[0] and after[1] == before[1] and after[3] == before[3]
    assert after[2] is before[2]


def test_a_mesh_after_frames_without_a_panel_is_refused():
    pv = Preview(backend="frames")
    pv.update(gradient())
    with pytest.raises(ValueError, match="without a mesh panel"):
        pv.update(gradient(), mesh=cone())
    assert len(pv.history["it"]) == 1 and pv.mesh is None


@needs_vulkan
def test_offscreen_mesh_panel_is_drawn_by_ggui_like_the_numpy_fallback(tmp_path):
    result = run_child(tmp_path, """
        from test_preview import cone
        v, f = cone()
        frames = {}
        for backend in ("offscreen", "frames"):
            with Preview(gradient(t=1.0), show_window=False, backend=backend, scale=4,
                         target_mesh=(v * 1.2, f), mesh_orbit=0, record=True) as pv:
                pv.update(gradient(), loss=1.0, mesh=(v, f))
                pv.update(gradient(), loss=0.5, mesh=(v + np.float32([0.3, 0, 0]), f))
            assert pv.backend == backend, (pv.backend, pv.fallback_reason)
            frames[backend] = np.stack(pv.frames)
        np.save("frames.npy", np.stack([frames["offscreen"], frames["frames"]]))
        # a turning view: the target's outline changes length every frame
        rng = np.random.default_rng(1)
        bumpy = cone(n=40)[0] * rng.uniform(0.8, 1.2, (42, 1)).astype(np.float32), cone(n=40)[1]
        with Preview(show_window=False, scale=4, target_mesh=bumpy, mesh_orbit=23,
                     record=True) as pv:
            for it in range(8):
                pv.update(gradient(), mesh=(bumpy[0] * (0.8 + 0.03 * it), bumpy[1]))
        np.save("turning.npy", np.stack(pv.frames))
        print("DONE")
    """, child_env(DISPLAY=None))
    assert result.returncode == 0, result.stderr[-2000:]
    turning = np.load(tmp_path / "turning.npy")[:, :4 * H, 4 * W:4 * W + 4 * H]
    assert all(mesh_mask(panel).mean() > 0.05 for panel in turning)  # the mesh in every frame
    ggui, numpy_ = np.load(tmp_path / "frames.npy")
    side, x = 4 * H, 3 * 4 * W
    # the images around the panel are GGUI's read-back of the frame, unchanged
    assert np.abs(ggui[0, :side, :4 * W:4][::4].astype(int) - expected_u8(gradient())).max() <= 1
    for k in range(2):
        g, n = (mesh_mask(frames[k, :side, x:x + side]) for frames in (ggui, numpy_))
        assert g.mean() > 0.05 and not g[[0, -1]].any() and not g[:, [0, -1]].any()
        assert (g & n).sum() / (g | n).sum() > 0.9  # same place, same size, apex up
        outline = np.all(np.abs(ggui[k, :side, x:x + side].astype(int) - OUTLINE) < 40, axis=2)
        assert outline.sum() > side  # GGUI drew the target's silhouette too
    assert (mesh_mask(ggui[0, :side, x:x + side]) != mesh_mask(ggui[1, :side, x:x + side])).sum() > 50


@needs_vulkan
def test_window_mesh_panel_under_xvfb(tmp_path, xvfb):
    result = run_child(tmp_path, """
        from test_preview import cone
        with Preview(show_window=True, scale=4, mesh_orbit=0) as pv:
            assert pv.backend == "window", (pv.backend, pv.fallback_reason)
            for it in range(2):
                assert pv.update(gradient(), loss=1.0, mesh=cone())
            pv.save_frame("window.png")
        print("DONE")
    """, child_env(DISPLAY=xvfb))
    assert result.returncode == 0, result.stderr[-2000:]
    frame = iio.imread(tmp_path / "window.png")
    panel = frame[:4 * H, 4 * W:4 * W + 4 * H]
    assert 0.05 < mesh_mask(panel).mean() < 0.7
    np.testing.assert_array_equal(frame[:4 * H:4, :4 * W:4], expected_u8(gradient()))
