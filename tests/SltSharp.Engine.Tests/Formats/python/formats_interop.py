"""Cross-checks SltSharp's checkpoint formats against numpy (run with Debian's /usr/bin/python3).

  formats_interop.py write DIR   numpy writes .npy/.npz and a hand-written writer writes safetensors into DIR
  formats_interop.py check DIR   numpy reads what SltSharp wrote into DIR and checks every value

Values follow formulas that the C# test recomputes, chosen so that every conversion is exactly rounded in both
languages: rational values for f4/f8, multiples of 1/8 below 8 in magnitude for f2/bf16 (exact in both).
"""
import json
import struct
import sys
import zipfile

import numpy as np


def rational(n):
    i = np.arange(n, dtype=np.int64)
    return ((i * 7919) % 1001 - 500).astype(np.float64) / 3.0


def eighths(n):
    i = np.arange(n, dtype=np.int64)
    return ((i * 37) % 127 - 63).astype(np.float64) / 8.0


def integers(n, dtype):
    i = np.arange(n, dtype=np.int64)
    if dtype == np.int64:
        return i * 2654435761000003 - 2305843009213693951  # beyond the int32 range on purpose
    return ((i * 7919) % 20011 - 10005).astype(dtype)


def arrays():
    return {
        "w_f4": rational(12).astype(np.float32).reshape(3, 4),
        "w_f8": rational(24).reshape(2, 3, 4),
        "labels_i4": integers(7, np.int32),
        "tokens_i8": integers(10, np.int64).reshape(2, 5),
        "scalar_f8": np.array(rational(3)[2]),
        "empty_f4": np.zeros((0, 3), dtype=np.float32),
    }


def write_safetensors(path, tensors, metadata):
    """A minimal safetensors writer: sorted names, 8-byte padded header, contiguous little-endian data."""
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def bf16_bytes(values):
    bits = np.asarray(values, dtype=np.float32).view(np.uint32)
    assert np.all(bits & 0xFFFF == 0), "bf16 test values must be exact"
    return (bits >> 16).astype("<u2").tobytes()


def write(folder):
    a = arrays()
    for name, arr in a.items():
        np.save(f"{folder}/{name}.npy", arr)
    np.save(f"{folder}/half_f2.npy", eighths(6).astype(np.float16).reshape(2, 3))
    np.savez(f"{folder}/stored.npz", **a)
    np.savez_compressed(f"{folder}/deflated.npz", **a)
    tensors = {
        "w_f32": ("F32", (3, 4), rational(12).astype("<f4").tobytes()),
        "w_f64": ("F64", (2, 3, 4), rational(24).astype("<f8").tobytes()),
        "h_f16": ("F16", (5,), eighths(5).astype("<f2").tobytes()),
        "h_bf16": ("BF16", (2, 4), bf16_bytes(eighths(8))),
        "labels_i32": ("I32", (7,), integers(7, np.int32).astype("<i4").tobytes()),
        "tokens_i64": ("I64", (2, 5), integers(10, np.int64).astype("<i8").tobytes()),
    }
    write_safetensors(f"{folder}/python.safetensors", tensors, {"format": "pt", "step": "1200"})


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    assert n % 8 == 0, f"header length {n} not 8-byte aligned"
    header = json.loads(data[8:8 + n].decode("utf-8"))
    buf = data[8 + n:]
    meta = header.pop("__metadata__", {})
    dtypes = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8"}
    out = {}
    covered = 0
    for name, e in header.items():
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(buf[b:end], dtype=dtypes[e["dtype"]]).reshape(e["shape"])
        covered += end - b
    assert covered == len(buf), "tensors do not tile the buffer"
    return out, meta


def expect(name, got, want):
    assert got.dtype == want.dtype, f"{name}: dtype {got.dtype} != {want.dtype}"
    assert got.shape == want.shape, f"{name}: shape {got.shape} != {want.shape}"
    assert np.array_equal(got, want), f"{name}: values differ"


def check(folder):
    a = arrays()
    for name, want in a.items():
        expect(name + ".npy", np.load(f"{folder}/{name}.npy"), want)
    for archive in ("stored", "deflated"):
        with np.load(f"{folder}/{archive}.npz") as z:
            assert sorted(z.files) == sorted(a), f"{archive}.npz entries {z.files}"
            for name, want in a.items():
                expect(f"{archive}.npz/{name}", z[name], want)
        with zipfile.ZipFile(f"{folder}/{archive}.npz") as zf:
            methods = {i.compress_type for i in zf.infolist()}
            wanted = zipfile.ZIP_DEFLATED if archive == "deflated" else zipfile.ZIP_STORED
            assert methods == {wanted}, f"{archive}.npz compression methods {methods}"
    tensors, meta = read_safetensors(f"{folder}/ours.safetensors")
    assert meta == {"format": "pt", "note": "caf\u00e9 \u2713"}, f"metadata {meta}"
    for name, want in a.items():
        expect(f"ours.safetensors/{name}", tensors[name], want)
    print("OK")


if __name__ == "__main__":
    {"write": write, "check": check}[sys.argv[1]](sys.argv[2])
