#!/usr/bin/python3
"""Dump a GGUF file as one JSON object, using llama.cpp's gguf-py reader.

This is an independent reader used to cross-check our own C# GGUF writer.
gguf-py is NOT part of this repository; fetch it with tools/setup-gguf-py.sh:

    GGUF_PY=$(tools/setup-gguf-py.sh | tail -n1)
    PYTHONPATH="$GGUF_PY" /usr/bin/python3 tools/gguf_dump.py FILE.gguf

Output (one JSON object on stdout):
  {"version", "tensor_count", "kv_count", "alignment", "data_offset",
   "kv": [{"key", "type", ["array_type"], "value"}, ...]          (file order)
   "tensors": [{"name", "type", "type_id", "shape" (ne0 first),
                "offset" (relative to the data section), "n_bytes",
                "sha256"}, ...]                                    (file order)}

Only numpy is needed: the reader module is imported without running
gguf/__init__.py (which would also pull in pyyaml via gguf.metadata).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import sys
import types


def _import_gguf_reader():
    """Import gguf.gguf_reader without executing gguf/__init__.py."""
    if "gguf" not in sys.modules:
        spec = importlib.util.find_spec("gguf")
        if spec is None or not spec.submodule_search_locations:
            sys.exit("gguf_dump: cannot find the 'gguf' package; set PYTHONPATH to the "
                     "gguf-py folder printed by tools/setup-gguf-py.sh")
        pkg = types.ModuleType("gguf")
        pkg.__path__ = list(spec.submodule_search_locations)
        pkg.__file__ = spec.origin
        sys.modules["gguf"] = pkg
    import gguf.gguf_reader as reader_mod
    import gguf.constants as constants
    return reader_mod, constants


_reader_mod, _const = _import_gguf_reader()
GGUFReader = _reader_mod.GGUFReader
GGUFValueType = _const.GGUFValueType
GGMLQuantizationType = _const.GGMLQuantizationType

# Fields GGUFReader adds for the header; not real key/value pairs.
SYNTHETIC_FIELDS = ("GGUF.version", "GGUF.tensor_count", "GGUF.kv_count")


def _decode(arr) -> str:
    return bytes(arr.tobytes()).decode("utf-8")  # strict: invalid UTF-8 is an error


def _scalar(arr):
    v = arr.tolist()[0]  # numpy -> Python int / float / bool
    return v


def _parse_value(parts, i: int, vtype: GGUFValueType):
    """Rebuild one value from ReaderField.parts starting at parts[i].

    gguf-py lays the parts out recursively: a scalar is [value], a string is
    [len, bytes], an array is [item_type, count, <parts of each element>...].
    Walking them (instead of ReaderField.contents(), which flattens nested
    arrays) keeps nested arrays nested. Returns (value, next_index).
    """
    if vtype == GGUFValueType.STRING:
        return _decode(parts[i + 1]), i + 2
    if vtype == GGUFValueType.ARRAY:
        itype = GGUFValueType(int(parts[i][0]))
        count = int(parts[i + 1][0])
        i += 2
        out = []
        for _ in range(count):
            v, i = _parse_value(parts, i, itype)
            out.append(v)
        return out, i
    return _scalar(parts[i]), i + 1


def dump(path: str) -> dict:
    r = GGUFReader(path, "r")

    fields = r.fields
    version = int(fields["GGUF.version"].parts[0][0])
    tensor_count = int(fields["GGUF.tensor_count"].parts[0][0])
    kv_count = int(fields["GGUF.kv_count"].parts[0][0])

    kv = []
    for name, f in fields.items():  # OrderedDict: file order
        if name in SYNTHETIC_FIELDS:
            continue
        # parts = [key_len, key_bytes, raw_value_type, <value parts>...]
        vtype = GGUFValueType(int(f.parts[2][0]))
        value, end = _parse_value(f.parts, 3, vtype)
        if end != len(f.parts):
            raise ValueError(f"internal: {name}: consumed {end} of {len(f.parts)} parts")
        entry = {"key": name, "type": vtype.name}
        if vtype == GGUFValueType.ARRAY:
            entry["array_type"] = GGUFValueType(int(f.parts[3][0])).name
        entry["value"] = value
        kv.append(entry)
    if len(kv) != kv_count:
        raise ValueError(f"kv_count {kv_count} but read {len(kv)} key/value pairs")

    data = r.data  # numpy memmap of the whole file
    tensors = []
    for t in r.tensors:  # file order
        # t.field.parts = [name_len, name, n_dims, dims, type, offset]
        rel_offset = int(t.field.parts[5][0])
        start = int(t.data_offset)
        if start != int(r.data_offset) + rel_offset:
            raise ValueError(f"internal: {t.name}: data_offset mismatch")
        n_bytes = int(t.n_bytes)
        raw = data[start:start + n_bytes]
        if raw.nbytes != n_bytes:
            raise ValueError(f"tensor {t.name}: needs {n_bytes} bytes at {start}, file has {raw.nbytes}")
        type_id = int(t.field.parts[4][0])
        tensors.append({
            "name": t.name,
            "type": GGMLQuantizationType(type_id).name,
            "type_id": type_id,
            # ReaderTensor.shape is the raw dims array from the file (ne0 first);
            # only the numpy view t.data is reversed (row-major).
            "shape": [int(d) for d in t.field.parts[3].tolist()],
            "offset": rel_offset,
            "n_bytes": n_bytes,
            "sha256": hashlib.sha256(raw.tobytes()).hexdigest(),
        })
    if len(tensors) != tensor_count:
        raise ValueError(f"tensor_count {tensor_count} but read {len(tensors)} tensors")

    return {
        "version": version,
        "tensor_count": tensor_count,
        "kv_count": kv_count,
        "alignment": int(r.alignment),
        "data_offset": int(r.data_offset),
        "kv": kv,
        "tensors": tensors,
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(f"usage: PYTHONPATH=<gguf-py> {os.path.basename(argv[0])} FILE.gguf", file=sys.stderr)
        return 0 if len(argv) == 2 else 2
    if not os.path.isfile(argv[1]):
        print(f"{os.path.basename(argv[0])}: {argv[1]}: no such file", file=sys.stderr)
        return 2
    try:
        result = dump(argv[1])
    except ValueError as e:  # gguf-py's own refusal: not GGUF, truncated
        print(f"{os.path.basename(argv[0])}: {argv[1]}: {e}", file=sys.stderr)
        return 2
    json.dump(result, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
