"""Read and write safetensors files with numpy only (no `safetensors` package needed).

The format (https://huggingface.co/docs/safetensors): 8 bytes little-endian u64 N, then N bytes of
JSON header {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
"__metadata__": {"key": "string"}}, padded with spaces, then the tensors' bytes, little-endian,
C order, offsets relative to the end of the header. lib/reference/safetensors.ts is the TypeScript
side; the two exchange the shared initial states of lib/reference/start-state.ts.
"""
import json
import struct

import numpy as np

DTYPES = {'F32': np.dtype('<f4'), 'F64': np.dtype('<f8'), 'I32': np.dtype('<i4')}
NAMES = {v: k for k, v in DTYPES.items()}


def write(path, tensors, metadata=None):
    """tensors: {name: array-like} (float32, float64 or int32 kept, other floats become float32)."""
    header = {}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        a = np.asarray(tensors[name])
        if a.dtype.newbyteorder('<') not in NAMES:
            a = a.astype(np.float32)
        a = np.ascontiguousarray(a.astype(a.dtype.newbyteorder('<')))
        data = a.tobytes()
        header[name] = {'dtype': NAMES[a.dtype], 'shape': list(a.shape), 'data_offsets': [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header['__metadata__'] = {str(k): str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(',', ':')).encode('utf8')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def read(path):
    """Returns ({name: numpy array}, {metadata key: string})."""
    buf = open(path, 'rb').read()
    if len(buf) < 8:
        raise ValueError(f'{path}: not a safetensors file (only {len(buf)} bytes)')
    (n,) = struct.unpack('<Q', buf[:8])
    if 8 + n > len(buf):
        raise ValueError(f'{path}: header of {n} bytes runs past the end of the file ({len(buf)} bytes)')
    header = json.loads(buf[8:8 + n].decode('utf8'))
    metadata = header.pop('__metadata__', {}) or {}
    tensors = {}
    base = 8 + n
    for name, info in header.items():
        dt = DTYPES.get(info['dtype'])
        if dt is None:
            raise ValueError(f'{path}: tensor {name} has unsupported dtype {info["dtype"]}')
        begin, end = info['data_offsets']
        a = np.frombuffer(buf, dtype=dt, count=(end - begin) // dt.itemsize, offset=base + begin)
        tensors[name] = a.reshape(info['shape']).copy()
    return tensors, metadata
