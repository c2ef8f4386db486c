"""Rebuild the small real samples in datasets/ from Debian packages (no internet needed).

    apt-get install python3-skimage python3-pil python3-sklearn dataset-fashion-mnist
    /usr/bin/python3 datasets/make_samples.py

or, without installing the last two, extract them and point the script at the extraction:

    apt-get download python3-sklearn dataset-fashion-mnist
    for f in *.deb; do dpkg-deb -x "$f" /tmp/debroot; done
    /usr/bin/python3 datasets/make_samples.py --deb-root /tmp/debroot

natural/: five photos shipped with scikit-image (python3-skimage), centre-cropped to a square and
area-resized to 32x32 RGB PNG (the paper's CIFAR resolution); natural-128/: the same at 128x128.
fashion-mnist/: the first 64 test images and labels of Fashion-MNIST (dataset-fashion-mnist,
/usr/share/datasets/fashion-mnist/), rewritten in the original idx format, gzipped.
digits/digits.csv.gz: scikit-learn's handwritten digits (python3-sklearn), copied as is.
lfw/lfw_subset.npy: scikit-image's LFW subset (python3-skimage), copied as is.
Sources and licences: datasets/README.md. The script prints the numbers that test/data.test.ts
checks (pixel sums of the first Fashion-MNIST images).
"""
import argparse
import gzip
import shutil
import struct
import os

import numpy as np
from PIL import Image
import skimage.data as data

HERE = os.path.dirname(os.path.abspath(__file__))

NATURAL = {
    'astronaut': data.astronaut,
    'chelsea': data.chelsea,
    'coffee': data.coffee,
    'rocket': data.rocket,
    'hubble': data.hubble_deep_field,
}


def square(img):
    h, w = img.shape[:2]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return img[top:top + s, left:left + s]


def natural(size=32, folder='natural'):
    out = os.path.join(HERE, folder)
    os.makedirs(out, exist_ok=True)
    for name, load in NATURAL.items():
        img = Image.fromarray(np.ascontiguousarray(square(load())[..., :3]))
        img.resize((size, size), Image.BOX).save(os.path.join(out, f'{name}.png'))
        print('wrote', os.path.join('datasets', folder, f'{name}.png'))


def find(rel, roots):
    """The first existing root/rel, for roots given on the command line then '/'."""
    for root in list(roots) + ['/']:
        p = os.path.join(root, rel.lstrip('/'))
        if os.path.exists(p):
            return p
    raise SystemExit(f'cannot find {rel} under {list(roots) + ["/"]}: install the package or pass --deb-root')


def read_idx(path):
    """An idx file (gzipped) as a numpy array, checked against its header."""
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    zero, dtype, ndim = struct.unpack('>HBB', raw[:4])
    assert zero == 0 and dtype == 0x08, f'{path}: not an unsigned-byte idx file'
    dims = struct.unpack('>' + 'I' * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    assert data.size == int(np.prod(dims)), f'{path}: size does not match the header'
    return data.reshape(dims)


def write_idx(path, arr):
    """arr (uint8) in idx format, gzipped without a timestamp so that reruns give the same bytes."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    header = struct.pack('>HBB', 0, 0x08, arr.ndim) + struct.pack('>' + 'I' * arr.ndim, *arr.shape)
    with open(path, 'wb') as raw, gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0) as f:
        f.write(header + arr.tobytes())


def fashion_mnist(roots, n=64):
    src = find('/usr/share/datasets/fashion-mnist', roots)
    images = read_idx(os.path.join(src, 't10k-images-idx3-ubyte.gz'))[:n]
    labels = read_idx(os.path.join(src, 't10k-labels-idx1-ubyte.gz'))[:n]
    out = os.path.join(HERE, 'fashion-mnist')
    os.makedirs(out, exist_ok=True)
    write_idx(os.path.join(out, 't10k-images-idx3-ubyte.gz'), images)
    write_idx(os.path.join(out, 't10k-labels-idx1-ubyte.gz'), labels)
    print('wrote datasets/fashion-mnist/t10k-{images-idx3,labels-idx1}-ubyte.gz:', images.shape, 'from', src)
    # Numbers checked by test/data.test.ts (cross-check of the TypeScript idx reader).
    sums = [int(images[i].astype(np.int64).sum()) for i in range(3)]
    print('  fashion-mnist first 3 labels:', labels[:3].tolist(), ' pixel sums (0..255):', sums,
          ' image 0 pixel (row 14, col 14):', int(images[0, 14, 14]), ' all 64 pixel sum:', int(images.astype(np.int64).sum()),
          ' labels sum:', int(labels.astype(np.int64).sum()))


def digits(roots):
    src = find('/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz', roots)
    out = os.path.join(HERE, 'digits')
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(src, os.path.join(out, 'digits.csv.gz'))
    rows = np.loadtxt(src, delimiter=',')
    print('wrote datasets/digits/digits.csv.gz:', rows.shape, 'from', src)
    print('  digits first 5 labels:', rows[:5, -1].astype(int).tolist(), ' row 0 pixel sum (0..16):', int(rows[0, :64].sum()))


def lfw(roots):
    src = find('/usr/lib/python3/dist-packages/skimage/data/lfw_subset.npy', roots)
    out = os.path.join(HERE, 'lfw')
    os.makedirs(out, exist_ok=True)
    shutil.copyfile(src, os.path.join(out, 'lfw_subset.npy'))
    a = np.load(src)
    print('wrote datasets/lfw/lfw_subset.npy:', a.shape, a.dtype, 'from', src)
    print('  lfw image 0 sum:', repr(float(a[0].sum())), ' image 100 sum:', repr(float(a[100].sum())), ' [0,0,0]:', repr(float(a[0, 0, 0])))


if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--deb-root', action='append', default=[],
                    help='a folder where Debian packages were extracted with dpkg-deb -x (repeatable)')
    args = ap.parse_args()
    natural()
    natural(128, 'natural-128')
    fashion_mnist(args.deb_root)
    digits(args.deb_root)
    lfw(args.deb_root)
