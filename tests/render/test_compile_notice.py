"""The one-time compile notice (render/compile_notice.py): said once before a kernel variant
that is not in Taichi's offline cache is launched, never again once it is; the record behind it
survives missing and corrupt files; the demo reports its first iteration apart."""

import json
import logging
import os
import subprocess
import sys
import textwrap
import time

import pytest

import taichi_render as tr
from taichi_render.demo import timing_report
from taichi_render.log import logger
from taichi_render.render import compile_notice as cn
from taichi_render.render import renderer

NOTICE = "compiling the path tracer"


@pytest.fixture
def record_folder(tmp_path, monkeypatch):
    """Notices decided by a record in a temporary folder (Taichi keeps its real cache), as if
    nothing had been launched in this process yet."""
    folder = tmp_path / "llvm-test-cpu"
    folder.mkdir()
    monkeypatch.setattr(cn, "taichi_cache", lambda: (str(folder), True, "CPU"))
    monkeypatch.setattr(cn, "_launched", set())
    return folder


def _notices(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "taichi_render" and NOTICE in r.getMessage()]


def _tiny_cbox():
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 8
    return tr.load_dict(d)


def _touch_taichi_metadata(folder, when: float) -> None:
    path = folder / cn.TAICHI_METADATA
    path.write_bytes(b"")
    os.utime(path, (when, when))


# ---- the record, without kernels ----

def test_key_names_everything_the_compile_depends_on():
    base = {"kernel": "render_packets_kernel", "features": 0, "mode": "primal", "integrator": None,
            "fingerprint": "abc", "folder": "/c/llvm-x86-64"}
    key = cn.variant_key(**base)
    assert key == cn.variant_key(**base)
    for name, value in (("features", 8), ("mode", "adjoint"), ("fingerprint", "abd"),
                        ("kernel", "render_kernel"), ("integrator", 1), ("folder", "/c/llvm-other")):
        assert cn.variant_key(**{**base, name: value}) != key, name
    assert cn.variant_key(**{**base, "folder": "/elsewhere/llvm-x86-64/"}) == key  # the folder's name


def test_source_fingerprint_follows_the_device_code(tmp_path, monkeypatch):
    assert len(cn.source_fingerprint()) == 16 and cn.source_fingerprint() == cn.source_fingerprint()
    (tmp_path / "render").mkdir()
    source = tmp_path / "render" / "kernels.py"
    source.write_text("A = 1\n")
    monkeypatch.setattr(cn, "_PACKAGE", tmp_path)
    fingerprints = []
    for text in ("A = 1\n", "A = 2\n", "A = 1\n"):
        source.write_text(text)
        monkeypatch.setitem(cn._state, "fingerprint", None)  # computed once per process otherwise
        fingerprints.append(cn.source_fingerprint())
    assert fingerprints[0] != fingerprints[1] and fingerprints[0] == fingerprints[2]


def test_record_round_trip_and_bad_files(tmp_path):
    path = str(tmp_path / cn.RECORD_NAME)
    assert cn.read_record(path) == {}  # missing
    assert cn.store(path, "k1", {"seconds": 7.5, "at": 1.0})
    assert cn.read_record(path) == {"k1": {"seconds": 7.5, "at": 1.0}}
    assert cn.store(path, "k2", {"seconds": 2.0, "at": 2.0})
    assert set(cn.read_record(path)) == {"k1", "k2"}
    for junk in ("{not json", "[1, 2]", '{"kernels": 3}', ""):
        (tmp_path / cn.RECORD_NAME).write_text(junk)
        assert cn.read_record(path) == {}
        assert cn.store(path, "k3", {"seconds": 1.0, "at": 3.0})  # rewritten whole
        assert cn.read_record(path) == {"k3": {"seconds": 1.0, "at": 3.0}}
    assert [p.name for p in tmp_path.iterdir()] == [cn.RECORD_NAME]  # no temporary file left
    assert not cn.store(str(tmp_path / cn.RECORD_NAME / "inside_a_file.json"), "k", {})  # OSError
    for i in range(cn.MAX_ENTRIES + 5):
        cn.store(path, f"n{i}", {"at": float(10 + i)})
    entries = cn.read_record(path)
    assert len(entries) == cn.MAX_ENTRIES and f"n{cn.MAX_ENTRIES + 4}" in entries and "n0" not in entries


def test_cached_only_once_taichi_stored_its_kernels(tmp_path):
    now = time.time()
    entries = {"compiled": {"compiled": True, "at": now}, "loaded": {"compiled": False, "at": now}}
    assert not cn.is_cached(entries, "missing", str(tmp_path))
    assert not cn.is_cached(entries, "compiled", str(tmp_path))  # Taichi has not stored anything
    assert cn.is_cached(entries, "loaded", str(tmp_path))  # it came from Taichi's cache
    _touch_taichi_metadata(tmp_path, now - 600)  # a process killed before Taichi wrote its cache
    assert not cn.is_cached(entries, "compiled", str(tmp_path))
    _touch_taichi_metadata(tmp_path, now + 1)  # Taichi stored kernels when that process exited
    assert cn.is_cached(entries, "compiled", str(tmp_path))


def test_estimate_is_the_last_measured_compile_of_the_kernel_and_mode():
    assert cn.estimate({}, "render_packets_kernel", "primal", 0) == (10.0, False)
    assert cn.estimate({}, "render_packets_kernel", "adjoint", 0) == (20.0, False)
    entries = {
        "a": {"kernel": "render_packets_kernel", "mode": "primal", "features": 0, "seconds": 7.0,
              "compiled": True, "at": 1.0},
        "b": {"kernel": "render_packets_kernel", "mode": "primal", "features": 15, "seconds": 16.0,
              "compiled": True, "at": 2.0},
        "c": {"kernel": "render_packets_kernel", "mode": "primal", "features": 0, "seconds": 0.6,
              "compiled": False, "at": 3.0},  # loaded from Taichi's cache: not a compile time
        "d": {"kernel": "render_packets_kernel", "mode": "adjoint", "features": 0, "seconds": 30.0,
              "compiled": True, "at": 4.0},
    }
    assert cn.estimate(entries, "render_packets_kernel", "primal", 0) == (7.0, True)  # same families
    assert cn.estimate(entries, "render_packets_kernel", "primal", 2) == (16.0, True)  # the latest
    assert cn.estimate(entries, "render_kernel", "primal", 0) == (10.0, False)


def test_message():
    assert cn.message("adjoint", 18.4, "/c/llvm-x", True) == (
        "compiling the path tracer for this CPU (adjoint), one time, about 18 s; cached in /c/llvm-x")
    assert cn.message("primal", 0.2, "/c/llvm-x", False) == (
        "compiling the path tracer for this CPU (primal), about 1 s; "
        "for this process only (offline_cache=False)")


def test_notice_once_per_variant_without_kernels(record_folder, caplog):
    caplog.set_level(logging.INFO, logger="taichi_render")
    for _ in range(2):
        with cn.first_launch("fake_kernel", 0, "primal"):
            pass
    with cn.first_launch("fake_kernel", 0, "adjoint"):
        pass
    assert _notices(caplog) == [
        f"compiling the path tracer for this CPU (primal), one time, about 10 s; cached in {record_folder}",
        f"compiling the path tracer for this CPU (adjoint), one time, about 20 s; cached in {record_folder}",
    ]
    entries = cn.read_record(str(record_folder / cn.RECORD_NAME))
    assert sorted(e["mode"] for e in entries.values()) == ["adjoint", "primal"]
    # a later process, once Taichi wrote its cache: silent
    _touch_taichi_metadata(record_folder, time.time() + 1)
    cn._launched.clear()
    caplog.clear()
    with cn.first_launch("fake_kernel", 0, "primal"):
        pass
    assert _notices(caplog) == []


def test_failed_launch_is_not_recorded(record_folder, caplog):
    caplog.set_level(logging.INFO, logger="taichi_render")
    with pytest.raises(RuntimeError), cn.first_launch("fake_kernel", 0, "primal"):
        raise RuntimeError("compile error")
    assert cn.read_record(str(record_folder / cn.RECORD_NAME)) == {}
    assert len(_notices(caplog)) == 1


def test_silenced_by_the_logger_level(record_folder, capsys):
    log = logger()
    level = log.level
    log.setLevel(logging.WARNING)  # what log.py tells users to do
    try:
        with cn.first_launch("fake_kernel", 0, "primal"):
            pass
    finally:
        log.setLevel(level)
    assert NOTICE not in capsys.readouterr().err
    assert len(cn.read_record(str(record_folder / cn.RECORD_NAME))) == 1  # still recorded


# ---- renders (the Cornell box kernel, compiled once per test session) ----

def test_render_notices_once_and_records(record_folder, caplog, monkeypatch):
    caplog.set_level(logging.INFO, logger="taichi_render")
    scene = _tiny_cbox()
    monkeypatch.setattr(renderer, "MAX_SAMPLES_PER_LAUNCH", 1)  # one launch per sample
    tr.render(scene, spp=3)
    tr.render(scene, spp=2)
    assert len(_notices(caplog)) == 1
    (entry,) = cn.read_record(str(record_folder / cn.RECORD_NAME)).values()
    assert entry["kernel"] == "render_packets_kernel" and entry["mode"] == "primal"
    assert entry["features"] == renderer.scene_data(scene).features and entry["seconds"] > 0


def test_corrupt_record_is_tolerated_and_rewritten(record_folder, caplog):
    caplog.set_level(logging.INFO, logger="taichi_render")
    path = record_folder / cn.RECORD_NAME
    path.write_text('{"kernels": {"trunc')
    image = tr.render(_tiny_cbox(), spp=4).to_numpy()
    assert image.shape == (8, 8, 3) and image.mean() > 0
    assert len(_notices(caplog)) == 1
    (entry,) = json.loads(path.read_text())["kernels"].values()
    assert entry["seconds"] > 0


def test_log_lines_print_above_a_progress_bar(capsys, caplog):
    from tqdm import tqdm

    caplog.set_level(logging.INFO, logger="taichi_render")

    with tqdm(total=2, desc="bar", file=sys.stderr, ascii=True) as bar:
        logger().info("a notice")
        bar.update(2)
    err = capsys.readouterr().err
    assert "taichi_render: a notice\n" in err
    assert err.index("taichi_render: a notice") < err.index("2/2")
    assert len(logging.getLogger("taichi_render").handlers) == 1
    assert logger() is logging.getLogger("taichi_render") and len(logger().handlers) == 1


# ---- a real compile, in fresh processes ----

_SCRIPT = textwrap.dedent("""
    import taichi_render as tr
    tr.init("cpu")
    d = tr.cornell_box()
    d["sensor"]["film"]["width"] = d["sensor"]["film"]["height"] = 8
    image = tr.render(tr.load_dict(d), spp=4).to_numpy()
    assert image.mean() > 0
""")


@pytest.mark.slow
def test_fresh_cache_notices_once_then_never(tmp_path):
    """A process with an empty offline cache says it compiles (on stderr, once); a second one
    with the same cache says nothing."""
    env = dict(os.environ, TI_OFFLINE_CACHE_FILE_PATH=str(tmp_path), TI_LOG_LEVEL="warn",
               ENABLE_TAICHI_HEADER_PRINT="0", TI_SKIP_VERSION_CHECK="ON")
    runs = [subprocess.run([sys.executable, "-W", "ignore", "-c", _SCRIPT], capture_output=True,
                           text=True, env=env, timeout=600, check=False) for _ in range(2)]
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert NOTICE not in run.stdout
    first = [line for line in runs[0].stderr.splitlines() if NOTICE in line]
    assert len(first) == 1, runs[0].stderr
    assert first[0].startswith("taichi_render: compiling the path tracer for this CPU (primal), "
                               "one time, about 10 s; cached in " + str(tmp_path))
    assert NOTICE not in runs[1].stderr, runs[1].stderr
    (record,) = tmp_path.glob(f"*/{cn.RECORD_NAME}")
    (entry,) = json.loads(record.read_text())["kernels"].values()
    assert entry["compiled"] is True and entry["seconds"] > cn.COMPILED_SECONDS
    print(f"first launch {entry['seconds']:.1f} s (estimate said 10 s)")


# ---- the demo's report ----

def test_demo_reports_the_first_iteration_apart():
    assert timing_report([8.1, 8.115, 8.128, 8.145]) == (
        "first iteration 8.1 s (includes compiling or loading the kernels), then 15.0 ms per iteration "
        "(median of the remaining 3)")
    assert timing_report([2.0]) == "first iteration 2.0 s (includes compiling or loading the kernels)"
    assert timing_report([]) == "no iterations"
