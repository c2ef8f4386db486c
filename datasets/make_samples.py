"""Rebuild the small image samples in datasets/ from Debian packages (no internet needed).

    apt-get install python3-skimage python3-pil
    /usr/bin/python3 datasets/make_samples.py

natural/: five photos shipped with scikit-image (python3-skimage), centre-cropped to a square and
area-resized to 32x32 RGB PNG (the paper's CIFAR resolution). Sources and licences: datasets/README.md.
"""
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


def natural(size=32):
    out = os.path.join(HERE, 'natural')
    os.makedirs(out, exist_ok=True)
    for name, load in NATURAL.items():
        img = Image.fromarray(np.ascontiguousarray(square(load())[..., :3]))
        img.resize((size, size), Image.BOX).save(os.path.join(out, f'{name}.png'))
        print('wrote', os.path.join('datasets', 'natural', f'{name}.png'))


if __name__ == '__main__':
    natural()
