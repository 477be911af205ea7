"""Generate the synthetic microscope images used by the demo pipeline (../pipefile.py).

Each image is a 128x128 float32 picture of a dark, slightly unevenly lit, noisy
background with a few bright Gaussian blobs (sigma 2-6 px, kept apart so that every
blob is countable). Everything comes from a fixed seed: running this script again
rewrites byte-identical files.

    python data/make_demo_data.py

writes, next to this script:

    subjects.csv                 rows for the Subject table (djflow insert Subject data/subjects.csv)
    sessions.csv                 rows for the Session table
    new_sessions.csv             a session recorded later (the README's tour adds it)
    images/<subject_id>_<session_date>.npy    one image per session, read by Image's make
    ground_truth_blobs.csv       the blobs drawn into each image (x = column, y = row)

Only the standard library and numpy are used.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

SEED = 20240115
SIZE = 128  # images are SIZE x SIZE pixels
BLOB_COUNT = (3, 7)  # each image gets between 3 and 7 blobs (inclusive)
BLOB_SIGMA = (2.0, 6.0)  # blob radius parameter, pixels
BLOB_AMPLITUDE = (0.45, 0.85)  # blob peak brightness above the background
BACKGROUND = 0.08  # mean background level
ILLUMINATION = 0.04  # brightness added across the image by a smooth lighting gradient
NOISE = 0.03  # standard deviation of the pixel noise
MARGIN = 12  # blob centres stay this many pixels away from the border
SEPARATION = 2.5  # centres are at least SEPARATION * (sigma1 + sigma2) apart

SUBJECTS = [
    # subject_id, species, sex, notes
    ("M001", "mouse", "M", "wild type"),
    ("M002", "mouse", "M", ""),
    ("F003", "mouse", "F", "GCaMP6s line"),
]

SESSIONS = [
    # subject_id, session_date
    ("M001", "2024-01-15"),
    ("M001", "2024-01-16"),
    ("M002", "2024-01-15"),
    ("M002", "2024-01-22"),
    ("F003", "2024-01-17"),
    ("F003", "2024-01-24"),
]

# a session recorded later: the README's tour inserts it to show incremental runs
LATER_SESSIONS = [("M002", "2024-01-29")]


def place_blobs(rng: np.random.Generator, n_blobs: int) -> list[tuple[float, float, float, float]]:
    """Draw ``n_blobs`` non-overlapping blobs as (x, y, sigma, amplitude) tuples."""
    for _layout in range(100):
        blobs: list[tuple[float, float, float, float]] = []
        for _candidate in range(1000):
            if len(blobs) == n_blobs:
                return blobs
            x, y = rng.uniform(MARGIN, SIZE - 1 - MARGIN, size=2)
            sigma = rng.uniform(*BLOB_SIGMA)
            amplitude = rng.uniform(*BLOB_AMPLITUDE)
            distances = [np.hypot(x - bx, y - by) / (sigma + bs) for bx, by, bs, _ in blobs]
            if min(distances, default=np.inf) >= SEPARATION:
                blobs.append((float(x), float(y), float(sigma), float(amplitude)))
        # no room left for the remaining blobs: start this image's layout again
    raise RuntimeError(f"could not place {n_blobs} separated blobs in a {SIZE}x{SIZE} image")


def render(rng: np.random.Generator, blobs: list[tuple[float, float, float, float]]) -> np.ndarray:
    """Paint ``blobs`` onto a noisy, unevenly lit background; float32 values in 0..1."""
    rows, cols = np.mgrid[0:SIZE, 0:SIZE].astype(np.float64)
    image = BACKGROUND + ILLUMINATION * (rows + cols) / (2 * (SIZE - 1))
    for x, y, sigma, amplitude in blobs:
        image += amplitude * np.exp(-((cols - x) ** 2 + (rows - y) ** 2) / (2 * sigma**2))
    image += rng.normal(0.0, NOISE, size=image.shape)
    return np.clip(image, 0.0, 1.0).astype(np.float32)


def make_image(index: int) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """The image for session number ``index`` and the blobs drawn into it.

    Each image has its own random stream (seeded by SEED and ``index``), so one image
    can be regenerated without the others.
    """
    rng = np.random.default_rng([SEED, index])
    n_blobs = int(rng.integers(BLOB_COUNT[0], BLOB_COUNT[1] + 1))
    blobs = place_blobs(rng, n_blobs)
    return render(rng, blobs), blobs


def write_csv(path: Path, header: list[str], rows: list) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def write_demo_data(out_dir: Path) -> None:
    """Write the CSV files and one .npy image per session under ``out_dir``."""
    images_dir = out_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "subjects.csv", ["subject_id", "species", "sex", "notes"], SUBJECTS)
    write_csv(out_dir / "sessions.csv", ["subject_id", "session_date"], SESSIONS)
    write_csv(out_dir / "new_sessions.csv", ["subject_id", "session_date"], LATER_SESSIONS)
    truth = []
    for index, (subject_id, session_date) in enumerate(SESSIONS + LATER_SESSIONS):
        image, blobs = make_image(index)
        np.save(images_dir / f"{subject_id}_{session_date}.npy", image)
        for blob_id, blob in enumerate(blobs):
            truth.append([subject_id, session_date, blob_id, *(f"{v:.3f}" for v in blob)])
    header = ["subject_id", "session_date", "blob_id", "x", "y", "sigma", "amplitude"]
    write_csv(out_dir / "ground_truth_blobs.csv", header, truth)


if __name__ == "__main__":
    out = Path(__file__).resolve().parent
    write_demo_data(out)
    print(f"wrote {len(SESSIONS) + len(LATER_SESSIONS)} images and the CSV files to {out}")
