"""The djflow demo pipeline: a lab that counts bright blobs in microscope images.

Read this file top to bottom. Each decorated function is a table. Its docstring is the
table's definition (DataJoint's definition language: primary key above ``---``, other
attributes below, ``-> Parent`` inherits the parent's key); its body, for imported and
computed tables, is the ``make`` step that computes one row.

    Subject --> Session --> Image --> Detection (+ part Detection.Blob) --> BlobStats
                                          ^
                            BlobParamSet -'

Try it (the images in data/images come from ``python data/make_demo_data.py``):

    djflow insert Subject data/subjects.csv
    djflow insert Session data/sessions.csv
    djflow run                       # Image, then Detection for every parameter set
    djflow show Detection

Per-session summaries are a query rather than a table (a make may read only the tables
it depends on, and Detection is downstream of Session), so they are never stale:

    pipeline = djflow.load()
    pipeline.Session.aggr(pipeline.Detection, n_detections="count(*)", mean_blobs="avg(nblobs)")
"""

from pathlib import Path

import numpy as np
from scipy import ndimage

import djflow

IMAGES = Path(__file__).parent / "data" / "images"


# --- the science: plain functions, testable without a database ----------------------


def find_blobs(image, min_sigma, max_sigma, threshold, num_scales=10):
    """Find bright round blobs in a 2-D grayscale image.

    Multi-scale Laplacian of Gaussian: the image is filtered at ``num_scales`` blob sizes
    from ``min_sigma`` to ``max_sigma`` pixels. Each filter is scaled by sigma**2 and
    sign-flipped, so a Gaussian blob of peak height A gives a response of about A/2 at
    the scale that matches its size. Every pixel keeps its best response over the scales;
    connected regions above ``threshold`` are blobs.

    Returns a list of ``(x, y, sigma)``: the centre (x = column, y = row, in pixels,
    sub-pixel) and the best-matching scale, which is clamped to [min_sigma, max_sigma].
    Neighbours whose above-threshold regions touch count as one blob; large scales and a
    low threshold (parameter set 2) merge more of them.
    """
    image = np.asarray(image, dtype=np.float64)
    sigmas = np.linspace(min_sigma, max_sigma, num_scales)
    responses = np.stack([-(s**2) * ndimage.gaussian_laplace(image, s) for s in sigmas])
    best = responses.max(axis=0)  # strongest response at each pixel ...
    best_scale = responses.argmax(axis=0)  # ... and the scale that gave it
    labels, count = ndimage.label(best > threshold)
    regions = range(1, count + 1)
    centres = ndimage.center_of_mass(best, labels, regions)  # response-weighted centres
    peaks = ndimage.maximum_position(best, labels, regions)
    return [
        (float(col), float(row), float(sigmas[best_scale[peak]]))
        for (row, col), peak in zip(centres, peaks)
    ]


# --- the tables ----------------------------------------------------------------------


# Lookup: parameter sets are part of the schema, inserted when the pipeline is loaded.
# Detection runs once per image *and* per parameter set: set 1 looks for small blobs,
# set 2 for larger ones with a lower threshold (it merges close neighbours more often).
@djflow.lookup(contents=[(1, 1.0, 5.0, 0.1), (2, 2.0, 10.0, 0.05)])
def BlobParamSet():
    """
    blob_paramset : int
    ---
    min_sigma : float          # smallest blob scale searched, pixels
    max_sigma : float          # largest blob scale searched, pixels
    threshold : float          # minimum filter response (about half a blob's brightness)
    """


# Manual: rows come from outside the pipeline (people, scripts, CSV files).
@djflow.manual
def Subject():
    """
    subject_id : varchar(16)   # lab identifier, e.g. M001
    ---
    species : varchar(32)
    sex : enum('M', 'F', 'U')
    notes = '' : varchar(255)
    """


@djflow.manual
def Session():
    """
    -> Subject
    session_date : date        # one imaging session per subject and day
    """


# Imported: make reads raw data from outside the database, once per Session.
@djflow.imported
def Image(key):
    """
    -> Session
    ---
    image : longblob           # 2-D float32 array, values 0..1
    height : int               # pixels
    width : int                # pixels
    """
    # key is the Session's primary key: {"subject_id": "M001", "session_date": date(2024, 1, 15)}
    path = IMAGES / f"{key['subject_id']}_{key['session_date']}.npy"
    if not path.exists():
        raise FileNotFoundError(f"no image file for session {key}: expected {path}")
    image = np.load(path, allow_pickle=False)
    height, width = image.shape
    return {"image": image, "height": height, "width": width}


# Computed: one row per (Image, BlobParamSet) pair. The parameters named Image and
# BlobParamSet arrive already restricted to this key, so fetch1() returns the one row.
@djflow.computed
def Detection(key, Image, BlobParamSet):
    """
    -> Image
    -> BlobParamSet
    ---
    nblobs : int               # number of blobs found
    """
    image = Image.fetch1("image")
    min_sigma, max_sigma, threshold = BlobParamSet.fetch1("min_sigma", "max_sigma", "threshold")
    blobs = find_blobs(image, min_sigma, max_sigma, threshold)
    # The master row and its part rows (under the part's name) are written together.
    return {
        "nblobs": len(blobs),
        "Blob": [
            {"blob_id": i, "x": x, "y": y, "sigma": sigma} for i, (x, y, sigma) in enumerate(blobs)
        ],
    }


# Part: the individual blobs of one Detection; they come and go with their master row.
@Detection.part
def Blob():
    """
    -> master
    blob_id : int
    ---
    x : float                  # centre column, pixels
    y : float                  # centre row, pixels
    sigma : float              # best-matching blob scale, pixels
    """


# Computed from a Detection and its part rows: a per-detection summary. A make may read
# its ancestors and their parts; deleting a Detection deletes its BlobStats row too.
@djflow.computed
def BlobStats(key, Blob):
    """
    -> Detection
    ---
    mean_sigma = null : float  # average blob scale, pixels (null when no blobs)
    min_spacing = null : float # distance between the two closest blobs, pixels
    """
    x, y, sigma = Blob.fetch("x", "y", "sigma")
    if not sigma:
        return {"mean_sigma": None, "min_spacing": None}
    points = np.column_stack([x, y])
    distances = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distances, np.inf)
    spacing = float(distances.min()) if len(points) > 1 else None
    return {"mean_sigma": float(np.mean(sigma)), "min_spacing": spacing}
