"""The demo pipeline's science: the image generator (data/make_demo_data.py) and
``find_blobs`` (pipefile.py), tested without a database.

The generator tests need only numpy. The blob tests import pipefile.py, whose first
line is ``import djflow``, so they are skipped until the engine's decorators exist.
"""

import csv
import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
PARAMSET_1 = (1.0, 5.0, 0.1)  # min_sigma, max_sigma, threshold, as in BlobParamSet
PARAMSET_2 = (2.0, 10.0, 0.05)

# Tolerances for parameter set 1 on generated images. The generator keeps blobs
# 2.5 * (sigma1 + sigma2) apart, at least 12 px from the border and 0.45 or more above
# the background; set 1 then counts every image exactly (measured: 300 of 300 images).
# One blob of slack per image allows for a blob landing on the threshold after a
# numpy/scipy change; centres must be within 1.5 px (measured: at most 0.42 px).
COUNT_TOLERANCE = 1
POSITION_TOLERANCE_PX = 1.5


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def generator():
    return load_module("make_demo_data", DATA / "make_demo_data.py")


@pytest.fixture(scope="module")
def find_blobs():
    djflow = pytest.importorskip("djflow")
    if not hasattr(djflow, "computed"):
        pytest.skip("the djflow engine (its table decorators) is not built yet")
    return load_module("demo_pipefile", ROOT / "pipefile.py").find_blobs


def checksums(folder):
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_generator_is_deterministic(generator, tmp_path):
    generator.write_demo_data(tmp_path / "first")
    generator.write_demo_data(tmp_path / "second")
    first = checksums(tmp_path / "first")
    assert first == checksums(tmp_path / "second")
    sessions = generator.SESSIONS + generator.LATER_SESSIONS
    assert len(first) == 4 + len(sessions)  # four CSV files, one image per session


def test_checked_in_data_matches_generator(generator, tmp_path):
    generator.write_demo_data(tmp_path)
    checked_in = checksums(DATA)
    for name, digest in checksums(tmp_path).items():
        assert checked_in.get(name) == digest, f"data/{name} is stale: run data/make_demo_data.py"


def test_images_look_like_the_spec(generator):
    for index in range(len(generator.SESSIONS)):
        image, blobs = generator.make_image(index)
        assert image.shape == (128, 128) and image.dtype == np.float32
        assert 0.0 <= image.min() and image.max() <= 1.0
        assert 3 <= len(blobs) <= 7
        assert all(2.0 <= sigma <= 6.0 for _x, _y, sigma, _amplitude in blobs)


def test_csv_files_fit_the_tables():
    with (DATA / "subjects.csv").open() as f:
        subjects = list(csv.DictReader(f))
    with (DATA / "sessions.csv").open() as f:
        sessions = list(csv.DictReader(f))
    assert list(subjects[0]) == ["subject_id", "species", "sex", "notes"]
    assert {s["sex"] for s in subjects} <= {"M", "F", "U"}
    ids = {s["subject_id"] for s in subjects}
    for session in sessions:
        assert session["subject_id"] in ids
        assert (DATA / "images" / f"{session['subject_id']}_{session['session_date']}.npy").exists()


@pytest.mark.parametrize("index", range(6))
def test_paramset_1_finds_the_blobs(generator, find_blobs, index):
    image, blobs = generator.make_image(index)
    found = find_blobs(image, *PARAMSET_1)
    assert abs(len(found) - len(blobs)) <= COUNT_TOLERANCE
    for x, y, _sigma, _amplitude in blobs:
        nearest = min(np.hypot(x - fx, y - fy) for fx, fy, _ in found)
        assert nearest <= POSITION_TOLERANCE_PX


def test_paramset_2_never_invents_blobs(generator, find_blobs):
    # Set 2 searches larger scales with a lower threshold: close neighbours may merge
    # into one detection, so it can undercount, but it must not overcount.
    for index in range(len(generator.SESSIONS)):
        image, blobs = generator.make_image(index)
        assert 1 <= len(find_blobs(image, *PARAMSET_2)) <= len(blobs)


def test_blob_sizes_and_output_types(find_blobs):
    rows, cols = np.mgrid[0:64, 0:64]
    image = 0.8 * np.exp(-((cols - 40.0) ** 2 + (rows - 20.0) ** 2) / (2 * 3.0**2))
    [(x, y, sigma)] = find_blobs(image, *PARAMSET_1)
    assert (x, y) == pytest.approx((40.0, 20.0), abs=0.1)  # x is the column, y the row
    assert sigma == pytest.approx(3.0, abs=0.5)
    assert all(type(v) is float for v in (x, y, sigma))


def test_blank_and_noise_images_have_no_blobs(find_blobs):
    noise = np.random.default_rng(0).normal(0.08, 0.03, size=(128, 128))
    for params in (PARAMSET_1, PARAMSET_2):
        assert find_blobs(np.zeros((32, 32)), *params) == []
        assert find_blobs(noise, *params) == []
