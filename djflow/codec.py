"""The ``blob`` codec: numbers, strings, bytes, lists, tuples, dicts and numpy arrays.

A blob is ``MAGIC`` + a 4-byte length + a JSON document + the raw bytes of any arrays.
Decoding only ever parses JSON and calls ``numpy.frombuffer`` with a numeric dtype, so a
blob written by someone else can never run code on read (unlike pickle).
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import struct
import uuid
from typing import Any

MAGIC = b"DJFB\x01"
# numpy dtype kinds that are plain numbers: bool, signed, unsigned, float, complex
SAFE_DTYPE_KINDS = set("biufc")


class BlobError(ValueError):
    """The value cannot be stored in a blob, or the bytes are not a djflow blob."""


def encode_blob(value: Any) -> bytes:
    """Serialise ``value`` to bytes."""
    buffers: list[bytes] = []
    document = json.dumps(_to_json(value, buffers), separators=(",", ":"), allow_nan=True)
    header = document.encode()
    return MAGIC + struct.pack("<I", len(header)) + header + b"".join(buffers)


def decode_blob(data: bytes) -> Any:
    """Read bytes written by :func:`encode_blob`."""
    data = bytes(data)
    if not data.startswith(MAGIC):
        raise BlobError("these bytes are not a djflow blob")
    (length,) = struct.unpack_from("<I", data, len(MAGIC))
    start = len(MAGIC) + 4
    document = json.loads(data[start : start + length])
    return _from_json(document, memoryview(data)[start + length :])


def _to_json(value: Any, buffers: list[bytes]) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, list):
        return [_to_json(v, buffers) for v in value]
    if isinstance(value, tuple):
        return {"$tuple": [_to_json(v, buffers) for v in value]}
    if isinstance(value, dict):
        if all(isinstance(k, str) and not k.startswith("$") for k in value):
            return {k: _to_json(v, buffers) for k, v in value.items()}
        return {"$dict": [[_to_json(k, buffers), _to_json(v, buffers)] for k, v in value.items()]}
    if isinstance(value, (bytes, bytearray)):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, datetime.datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    type_module = type(value).__module__
    if type_module == "numpy":
        return _numpy_to_json(value, buffers)
    name = type(value).__name__
    article = "an" if name[0] in "aeiou" else "a"
    raise BlobError(f"a blob cannot hold {article} {name}; use numbers, text, lists, dicts or numpy arrays")


def _numpy_to_json(value: Any, buffers: list[bytes]) -> Any:
    import numpy as np

    if isinstance(value, np.generic):
        return _to_json(value.item(), buffers)
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in SAFE_DTYPE_KINDS:
            if value.dtype.kind in "OUS":
                # text and bytes arrays keep their dtype; object arrays hold only what a blob can hold
                dtype = value.dtype.str if value.dtype.kind in "US" else "O"
                items = _to_json(value.ravel().tolist(), buffers)
                return {"$list_array": {"shape": list(value.shape), "items": items, "dtype": dtype}}
            raise BlobError(f"a blob cannot hold numpy arrays of dtype {value.dtype}")
        contiguous = np.ascontiguousarray(value)
        buffers.append(contiguous.tobytes())
        return {"$ndarray": {"dtype": contiguous.dtype.str, "shape": list(value.shape), "nbytes": contiguous.nbytes}}
    raise BlobError(f"a blob cannot hold a numpy {type(value).__name__}")


def _from_json(document: Any, payload: memoryview, cursor: list[int] | None = None) -> Any:
    if cursor is None:
        cursor = [0]
    if isinstance(document, list):
        return [_from_json(v, payload, cursor) for v in document]
    if not isinstance(document, dict):
        return document
    if len(document) == 1:
        (tag, body), = document.items()
        if tag == "$float":
            return float(body)
        if tag == "$tuple":
            return tuple(_from_json(v, payload, cursor) for v in body)
        if tag == "$dict":
            return {_freeze(_from_json(k, payload, cursor)): _from_json(v, payload, cursor) for k, v in body}
        if tag == "$bytes":
            return base64.b64decode(body)
        if tag == "$datetime":
            return datetime.datetime.fromisoformat(body)
        if tag == "$date":
            return datetime.date.fromisoformat(body)
        if tag == "$decimal":
            return decimal.Decimal(body)
        if tag == "$uuid":
            return uuid.UUID(body)
        if tag == "$ndarray":
            return _array_from(body, payload, cursor)
        if tag == "$list_array":
            import numpy as np

            dtype = np.dtype(body.get("dtype", "O"))
            if dtype.kind not in "OUS":
                raise BlobError(f"refusing to decode a blob list array of dtype {dtype}")
            items = _from_json(body["items"], payload, cursor)
            array = np.empty(len(items), dtype=dtype)
            for index, item in enumerate(items):  # one by one: an item may itself be a list
                array[index] = item
            return array.reshape(body["shape"])
    return {k: _from_json(v, payload, cursor) for k, v in document.items()}


def _array_from(spec: dict, payload: memoryview, cursor: list[int]) -> Any:
    import numpy as np

    dtype = np.dtype(spec["dtype"])
    if dtype.kind not in SAFE_DTYPE_KINDS:
        raise BlobError(f"refusing to decode a blob array of dtype {dtype}")
    start, nbytes = cursor[0], int(spec["nbytes"])
    cursor[0] = start + nbytes
    array = np.frombuffer(payload[start : start + nbytes], dtype=dtype).reshape(spec["shape"])
    return array.copy()  # writable and independent of the row's bytes


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value
