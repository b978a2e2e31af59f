"""Tests of taichi_render.io.bitmap: round trips per format, orientation, sRGB curve, errors."""

import numpy as np
import pytest

from taichi_render.io import (
    SUPPORTED_EXTENSIONS,
    linear_to_srgb,
    read_bitmap,
    srgb_to_linear,
    tonemap,
    write_bitmap,
)

H, W = 5, 7  # small and non-square, so that transposes and flips show


def hdr_image(channels=3, seed=0):
    """Linear image with values above 1 and a distinct top row (orientation check)."""
    rng = np.random.default_rng(seed)
    img = rng.uniform(0.0, 4.0, size=(H, W, channels)).astype(np.float32)
    img[0] = 10.0  # bright top row
    return img


def ldr_image(channels=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.0, 1.0, size=(H, W, channels)).astype(np.float32)


def srgb_closed_form(x):
    return 12.92 * x if x <= 0.0031308 else 1.055 * x ** (1 / 2.4) - 0.055


def linear_closed_form(v):
    return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4


# ---- sRGB curve ----


def test_srgb_curve_matches_closed_form():
    xs = np.array([0.0, 1e-4, 0.002, 0.0031308, 0.0031309, 0.01, 0.18, 0.5, 0.9, 1.0, 2.0])
    got = linear_to_srgb(xs)
    want = np.array([srgb_closed_form(x) for x in xs])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)
    vs = np.array([0.0, 0.01, 0.04045, 0.04046, 0.2, 0.5, 0.735, 1.0])
    np.testing.assert_allclose(
        srgb_to_linear(vs), [linear_closed_form(v) for v in vs], rtol=1e-12, atol=0
    )


def test_srgb_known_values_and_inverse():
    assert linear_to_srgb(0.5) == pytest.approx(0.7353569830524495, abs=1e-12)
    assert linear_to_srgb(0.18) == pytest.approx(0.4613561295004467, abs=1e-12)
    assert srgb_to_linear(0.5) == pytest.approx(0.21404114048223255, abs=1e-12)
    assert linear_to_srgb(1.0) == pytest.approx(1.0, abs=1e-12)
    x = np.linspace(0.0, 1.0, 1001)
    np.testing.assert_allclose(srgb_to_linear(linear_to_srgb(x)), x, atol=1e-12)
    # continuous at the switch point
    c = 0.0031308
    assert abs(12.92 * c - (1.055 * c ** (1 / 2.4) - 0.055)) < 1e-7
    assert np.all(np.diff(linear_to_srgb(x)) > 0)


def test_srgb_dtypes():
    assert linear_to_srgb(np.zeros(3, np.float32)).dtype == np.float32
    assert srgb_to_linear(np.zeros(3, np.float32)).dtype == np.float32
    assert linear_to_srgb(np.zeros(3, np.float64)).dtype == np.float64
    assert srgb_to_linear(np.zeros(3, np.uint8)).dtype == np.float64


def test_tonemap():
    img = np.array([[[0.0, 0.5, 2.0], [0.25, -1.0, np.nan]]], np.float32)
    out = tonemap(img)
    assert out.dtype == np.float32 and out.shape == (1, 2, 3)
    np.testing.assert_allclose(
        out, [[[0.0, srgb_closed_form(0.5), 1.0], [srgb_closed_form(0.25), 0.0, 0.0]]], atol=1e-6
    )
    # one stop up doubles the linear value
    np.testing.assert_allclose(tonemap(img, exposure=1)[0, 1, 0], srgb_closed_form(0.5), atol=1e-6)
    rgba = np.full((1, 1, 4), 0.25, np.float32)
    out = tonemap(rgba, exposure=2)
    np.testing.assert_allclose(out[0, 0], [1.0, 1.0, 1.0, 0.25], atol=1e-6)  # alpha untouched
    assert tonemap(np.full((2, 2), 0.5, np.float32)).shape == (2, 2, 1)


# ---- float formats ----


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_exr_round_trip_exact(tmp_path, channels):
    img = hdr_image(channels)
    img[1, 2, 0] = -0.5  # negative and tiny values survive float32 EXR
    img[2, 3, 0] = 1e-20
    path = tmp_path / "img.exr"
    write_bitmap(path, img)
    back = read_bitmap(path)
    assert back.dtype == np.float32 and back.shape == (H, W, channels)
    np.testing.assert_array_equal(back, img)


@pytest.mark.parametrize("channels,names", [(1, {"Y"}), (3, {"R", "G", "B"}), (4, set("RGBA"))])
def test_exr_channel_names_and_type(tmp_path, channels, names):
    import OpenEXR

    path = tmp_path / "img.exr"
    write_bitmap(path, hdr_image(channels))
    with OpenEXR.File(str(path), separate_channels=True) as f:
        chans = f.channels()
        assert set(chans) == names
        assert all(c.pixels.dtype == np.float32 for c in chans.values())
        assert all(c.pixels.shape == (H, W) for c in chans.values())


def test_exr_external_half_file(tmp_path):
    import OpenEXR

    img = hdr_image(3).astype(np.float16)
    path = tmp_path / "half.exr"
    header = {"compression": OpenEXR.PIZ_COMPRESSION, "type": OpenEXR.scanlineimage}
    channels = {c: np.ascontiguousarray(img[..., i]) for i, c in enumerate("RGB")}
    with OpenEXR.File(header, channels) as f:
        f.write(str(path))
    back = read_bitmap(path)
    assert back.dtype == np.float32
    np.testing.assert_array_equal(back, img.astype(np.float32))


def test_exr_unknown_channels(tmp_path):
    import OpenEXR

    path = tmp_path / "z.exr"
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"Z": np.zeros((H, W), np.float32)}) as f:
        f.write(str(path))
    with pytest.raises(ValueError, match="Z"):
        read_bitmap(path)


@pytest.mark.parametrize("channels", [1, 3])
def test_pfm_round_trip_exact(tmp_path, channels):
    img = hdr_image(channels)
    img[1, 2, 0] = -3.25
    path = tmp_path / "img.pfm"
    write_bitmap(path, img)
    back = read_bitmap(path)
    assert back.dtype == np.float32 and back.shape == (H, W, channels)
    np.testing.assert_array_equal(back, img)


def test_pfm_rgba_drops_alpha(tmp_path):
    img = hdr_image(4)
    write_bitmap(tmp_path / "img.pfm", img)
    np.testing.assert_array_equal(read_bitmap(tmp_path / "img.pfm"), img[..., :3])


def write_pfm_by_hand(path, img, little_endian=True):
    """PFM as the format defines it: header, then rows from the BOTTOM of the image to the top."""
    kind = b"PF" if img.shape[2] == 3 else b"Pf"
    scale = b"-1.0" if little_endian else b"1.0"
    rows = np.ascontiguousarray(img[::-1], dtype="<f4" if little_endian else ">f4")
    path.write_bytes(kind + b"\n%d %d\n" % (img.shape[1], img.shape[0]) + scale + b"\n")
    with open(path, "ab") as f:
        f.write(rows.tobytes())


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("little_endian", [True, False])
def test_pfm_external_file_reads_right_side_up(tmp_path, channels, little_endian):
    img = hdr_image(channels)
    path = tmp_path / "hand.pfm"
    write_pfm_by_hand(path, img, little_endian)
    back = read_bitmap(path)
    assert back[0, 0, 0] == 10.0  # the bright row is at the top
    np.testing.assert_array_equal(back, img)


def test_pfm_written_bottom_to_top(tmp_path):
    img = hdr_image(3)
    path = tmp_path / "img.pfm"
    write_bitmap(path, img)
    raw = path.read_bytes()
    lines = raw.split(b"\n", 3)
    assert lines[0] == b"PF" and lines[1].split() == [b"%d" % W, b"%d" % H]
    scale = float(lines[2])
    data = np.frombuffer(lines[3], dtype="<f4" if scale < 0 else ">f4").reshape(H, W, 3)
    np.testing.assert_array_equal(data[::-1], img)  # first stored row = bottom image row


def assert_rgbe_close(back, img):
    # RGBE keeps 8 mantissa bits under the exponent of the largest component m; OpenCV truncates,
    # so the error stays below one unit 2^ceil(log2 m) / 256 <= m * 2^-7
    tol = img.max(axis=2, keepdims=True) * 2.0**-7 + 1e-7
    assert np.all(np.abs(back - img) <= tol)


def test_hdr_round_trip_rgbe_tolerance(tmp_path):
    img = hdr_image(3)
    path = tmp_path / "img.hdr"
    write_bitmap(path, img)
    back = read_bitmap(path)
    assert back.dtype == np.float32 and back.shape == (H, W, 3)
    assert_rgbe_close(back, img)
    assert np.all(back[0] > 9.9)  # orientation
    header = path.read_bytes()[:200]
    assert header.startswith(b"#?") and b"-Y %d +X %d" % (H, W) in header


def test_hdr_one_and_four_channels(tmp_path):
    grey = hdr_image(1)
    write_bitmap(tmp_path / "g.hdr", grey)
    back = read_bitmap(tmp_path / "g.hdr")
    assert back.shape == (H, W, 3)  # RGBE is RGB only
    assert_rgbe_close(back, np.repeat(grey, 3, axis=2))
    rgba = hdr_image(4)
    write_bitmap(tmp_path / "a.hdr", rgba)
    assert_rgbe_close(read_bitmap(tmp_path / "a.hdr"), rgba[..., :3])


def test_hdr_clamps_negative_values(tmp_path):
    img = hdr_image(3)
    img[2, 2] = [-1.0, 0.5, 0.25]
    write_bitmap(tmp_path / "n.hdr", img)
    back = read_bitmap(tmp_path / "n.hdr")
    assert back[2, 2, 0] == 0.0 and back[2, 2, 1] == pytest.approx(0.5, abs=0.5 * 2**-7)


# ---- 8-bit formats ----


def test_png_round_trip_within_one_code(tmp_path):
    img = ldr_image(3)
    path = tmp_path / "img.png"
    write_bitmap(path, img)
    back = read_bitmap(path)
    assert back.dtype == np.float32 and back.shape == (H, W, 3)
    # within half a code (rounding) in sRGB space, so certainly within 1/255
    err = np.abs(linear_to_srgb(back) - linear_to_srgb(img))
    assert err.max() <= 0.5 / 255 + 1e-6


def test_png_stores_srgb_codes(tmp_path):
    import imageio.v3 as iio

    img = ldr_image(3)
    img[0, 0] = [-0.5, 1.5, np.nan]  # clipped (NaN -> 0)
    path = tmp_path / "img.png"
    write_bitmap(path, img)
    raw = iio.imread(path)
    assert raw.dtype == np.uint8 and raw.shape == (H, W, 3)
    want = np.round(np.clip(linear_to_srgb(np.clip(img.astype(np.float64), 0, 1)), 0, 1) * 255)
    want[0, 0] = [0, 255, 0]
    np.testing.assert_array_equal(raw, want)
    # reading decodes every code exactly with the closed form
    np.testing.assert_allclose(
        read_bitmap(path)[0, 1], [linear_closed_form(c / 255) for c in raw[0, 1]], rtol=1e-6
    )


def test_png_grey_and_rgba(tmp_path):
    import imageio.v3 as iio

    grey = ldr_image(1)
    write_bitmap(tmp_path / "g.png", grey)
    assert iio.imread(tmp_path / "g.png").shape == (H, W)
    back = read_bitmap(tmp_path / "g.png")
    assert back.shape == (H, W, 1)
    assert np.abs(linear_to_srgb(back) - linear_to_srgb(grey)).max() <= 0.5 / 255 + 1e-6

    rgba = ldr_image(4)
    write_bitmap(tmp_path / "a.png", rgba)
    raw = iio.imread(tmp_path / "a.png")
    assert raw.shape == (H, W, 4)
    np.testing.assert_array_equal(raw[..., 3], np.round(rgba[..., 3] * 255))  # alpha linear
    back = read_bitmap(tmp_path / "a.png")
    assert back.shape == (H, W, 4)
    np.testing.assert_allclose(back[..., 3], rgba[..., 3], atol=0.5 / 255 + 1e-6)
    err = np.abs(linear_to_srgb(back[..., :3]) - linear_to_srgb(rgba[..., :3]))
    assert err.max() <= 0.5 / 255 + 1e-6


def test_png_16bit_is_read_at_full_depth(tmp_path):
    import cv2

    rng = np.random.default_rng(1)
    codes = rng.integers(0, 65536, size=(H, W, 3), dtype=np.uint16)
    path = tmp_path / "rgb16.png"
    assert cv2.imwrite(str(path), codes[..., ::-1])  # OpenCV writes BGR
    back = read_bitmap(path)
    assert back.shape == (H, W, 3)
    np.testing.assert_allclose(back, srgb_to_linear(codes / 65535.0), rtol=1e-6, atol=1e-9)

    rgba = rng.integers(0, 65536, size=(H, W, 4), dtype=np.uint16)
    assert cv2.imwrite(str(tmp_path / "rgba16.png"), rgba[..., [2, 1, 0, 3]])
    back = read_bitmap(tmp_path / "rgba16.png")
    np.testing.assert_allclose(back[..., :3], srgb_to_linear(rgba[..., :3] / 65535.0), rtol=1e-6)
    np.testing.assert_allclose(back[..., 3], rgba[..., 3] / 65535.0, rtol=1e-6)

    grey = codes[..., 0].copy()
    assert cv2.imwrite(str(tmp_path / "g16.png"), grey)
    back = read_bitmap(tmp_path / "g16.png")
    np.testing.assert_allclose(back[..., 0], srgb_to_linear(grey / 65535.0), rtol=1e-6)


@pytest.mark.parametrize("ext", [".jpg", ".jpeg", ".JPG"])
def test_jpeg_round_trip(tmp_path, ext):
    # JPEG is lossy: a uniform image survives within two codes (YCbCr rounding), a smooth one
    # within a few
    flat = np.empty((16, 16, 3), np.float32)
    flat[:] = [0.2, 0.5, 0.8]
    write_bitmap(tmp_path / f"flat{ext}", flat)
    back = read_bitmap(tmp_path / f"flat{ext}")
    assert back.shape == (16, 16, 3)
    assert np.abs(linear_to_srgb(back) - linear_to_srgb(flat)).max() <= 2 / 255

    y, x = np.mgrid[0:16, 0:16] / 15.0
    # smooth in sRGB space (what JPEG compresses), mid-range colours
    smooth = srgb_to_linear(0.2 + 0.6 * np.stack([x, y, 0.5 * (x + y)], axis=-1))
    smooth = smooth.astype(np.float32)
    write_bitmap(tmp_path / f"smooth{ext}", smooth)
    back = read_bitmap(tmp_path / f"smooth{ext}")
    assert np.abs(linear_to_srgb(back) - linear_to_srgb(smooth)).max() <= 8 / 255


def test_jpeg_grey_and_rgba(tmp_path):
    grey = np.full((8, 8), 0.3, np.float32)
    write_bitmap(tmp_path / "g.jpg", grey)
    assert read_bitmap(tmp_path / "g.jpg").shape == (8, 8, 1)
    rgba = np.full((8, 8, 4), 0.3, np.float32)
    write_bitmap(tmp_path / "a.jpg", rgba)  # no alpha in JPEG: dropped
    assert read_bitmap(tmp_path / "a.jpg").shape == (8, 8, 3)


@pytest.mark.parametrize("name", ["UP.EXR", "Up.Pfm", "UP.HDR", "UP.PNG"])
def test_extension_case_insensitive(tmp_path, name):
    img = ldr_image(3)
    write_bitmap(tmp_path / name, img)
    assert read_bitmap(str(tmp_path / name)).shape == (H, W, 3)


# ---- input kinds ----


def test_numpy_inputs(tmp_path):
    img = hdr_image(3)
    write_bitmap(tmp_path / "f64.exr", img.astype(np.float64))
    np.testing.assert_array_equal(read_bitmap(tmp_path / "f64.exr"), img)
    write_bitmap(tmp_path / "2d.exr", img[..., 0])  # (H, W) -> one channel
    np.testing.assert_array_equal(read_bitmap(tmp_path / "2d.exr"), img[..., :1])
    write_bitmap(tmp_path / "strided.exr", img[:, ::-1])  # non-contiguous view
    np.testing.assert_array_equal(read_bitmap(tmp_path / "strided.exr"), img[:, ::-1])


def test_torch_inputs(tmp_path):
    torch = pytest.importorskip("torch")
    img = hdr_image(3)
    t = torch.from_numpy(img.copy()).requires_grad_(True)
    write_bitmap(tmp_path / "t.exr", t * 1.0)  # non-leaf tensor with grad history
    np.testing.assert_array_equal(read_bitmap(tmp_path / "t.exr"), img)
    write_bitmap(tmp_path / "t64.pfm", torch.from_numpy(img[..., 0].astype(np.float64)))
    np.testing.assert_array_equal(read_bitmap(tmp_path / "t64.pfm"), img[..., :1])


@pytest.fixture(scope="module")
def taichi_cpu():
    ti = pytest.importorskip("taichi")
    from taichi.lang import impl

    if impl.get_runtime().prog is None:  # do not reset a runtime another test module set up
        ti.init(arch=ti.cpu)
    return ti


def test_taichi_field_inputs(tmp_path, taichi_cpu):
    ti = taichi_cpu
    img = hdr_image(3)
    field = ti.Vector.field(3, ti.f32, shape=(H, W))
    field.from_numpy(img)
    write_bitmap(tmp_path / "field.exr", field)
    np.testing.assert_array_equal(read_bitmap(tmp_path / "field.exr"), img)
    scalar = ti.field(ti.f32, shape=(H, W))
    scalar.from_numpy(img[..., 0])
    write_bitmap(tmp_path / "scalar.pfm", scalar)
    np.testing.assert_array_equal(read_bitmap(tmp_path / "scalar.pfm"), img[..., :1])
    rgba = ti.Vector.field(4, ti.f32, shape=(H, W))
    rgba.from_numpy(hdr_image(4))
    write_bitmap(tmp_path / "rgba.exr", rgba)
    assert read_bitmap(tmp_path / "rgba.exr").shape == (H, W, 4)
    assert tonemap(field).shape == (H, W, 3)


# ---- errors ----


def test_unknown_extension(tmp_path):
    path = tmp_path / "img.tiff"
    with pytest.raises(ValueError) as e:
        write_bitmap(path, ldr_image())
    assert str(path) in str(e.value)
    assert all(ext in str(e.value) for ext in SUPPORTED_EXTENSIONS)
    path.write_bytes(b"x")
    with pytest.raises(ValueError, match=r"img\.tiff"):
        read_bitmap(path)
    with pytest.raises(ValueError, match="supported"):
        write_bitmap(tmp_path / "noext", ldr_image())


def test_missing_file(tmp_path):
    path = tmp_path / "missing.exr"
    with pytest.raises(FileNotFoundError, match="missing.exr"):
        read_bitmap(path)


def test_missing_folder_is_not_created(tmp_path):
    folder = tmp_path / "no_such_dir"
    with pytest.raises(FileNotFoundError) as e:
        write_bitmap(folder / "img.png", ldr_image())
    assert str(folder) in str(e.value)
    assert not folder.exists()


@pytest.mark.parametrize("shape", [(H, W, 2), (H, W, 5), (H,), (1, H, W, 3), (0, W, 3), (H, 0), ()])
def test_wrong_shape(tmp_path, shape):
    with pytest.raises(ValueError, match="shape"):
        write_bitmap(tmp_path / "img.exr", np.zeros(shape, np.float32))
    assert not (tmp_path / "img.exr").exists()


def test_wrong_dtype(tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        write_bitmap(tmp_path / "img.png", np.zeros((H, W, 3), np.uint8))
    with pytest.raises(TypeError):
        write_bitmap(tmp_path / "img.png", np.array([["a"]]))


@pytest.mark.parametrize("ext", [".exr", ".hdr", ".pfm", ".png", ".jpg"])
def test_corrupt_file(tmp_path, ext):
    path = tmp_path / f"bad{ext}"
    path.write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=f"bad{ext}"):
        read_bitmap(path)
