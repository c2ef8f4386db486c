#!/usr/bin/python3
"""
Reference values for lib/metrics.ts (MSE, PSNR, SSIM), computed with scikit-image.

    apt-get install -y python3-skimage      # brings python3-numpy and python3-scipy
    /usr/bin/python3 test/golden/metrics_golden.py

writes test/golden/metrics.json. The test images are not stored: each one is a closed formula
(`synth` below, mirrored by `synth` in test/metrics.test.ts) whose few parameters go into the
JSON, together with the checksums of the generated pixels and the expected metrics.

SSIM is skimage.metrics.structural_similarity with the settings of Wang et al. 2004:
gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, channel_axis=-1.
Its 11x11 window does not fit images whose smaller side is below 11 (skimage raises); for those
we pass win_size = the largest odd number <= the smaller side, which is the rule lib/metrics.ts
applies by itself. (With gaussian_weights=True, win_size only sets the border that is cropped
before averaging; the Gaussian filter stays the same.)
"""
import json
import os
import sys

import numpy as np
import skimage
from skimage.metrics import mean_squared_error, peak_signal_noise_ratio, structural_similarity

M32 = 0xFFFFFFFF


def hash32(x):
    """lowbias32 integer hash (Chris Wellons); exact 32-bit arithmetic, same as Math.imul in JS."""
    x &= M32
    x ^= x >> 16
    x = (x * 0x7FEB352D) & M32
    x ^= x >> 15
    x = (x * 0x846CA68B) & M32
    x ^= x >> 16
    return x


def synth(p):
    """
    A deterministic test image, HWC, rounded to float32 like an Img in TypeScript:
      v = offset + ax*x/w + ay*y/h + amp*sin(fx*x + fy*y + phase + pc*c) + noise*(u - 0.5)
    clipped to [0, 1], where u = hash32(i*0x9E3779B1 + seed)/2^32 and i = (y*w + x)*channels + c.
    """
    h, w, ch = p['h'], p['w'], p['c']
    out = np.empty((h, w, ch), dtype=np.float32)
    for y in range(h):
        for x in range(w):
            for c in range(ch):
                i = (y * w + x) * ch + c
                u = hash32(i * 0x9E3779B1 + p['seed']) / 4294967296.0
                v = (p['offset'] + p['ax'] * x / w + p['ay'] * y / h
                     + p['amp'] * np.sin(p['fx'] * x + p['fy'] * y + p['phase'] + p['pc'] * c)
                     + p['noise'] * (u - 0.5))
                out[y, x, c] = min(1.0, max(0.0, v))
    return out


def spec(h, w, c, offset=0.5, ax=0.0, ay=0.0, amp=0.0, fx=0.0, fy=0.0, phase=0.0, pc=0.0,
         noise=0.0, seed=0):
    return dict(h=h, w=w, c=c, offset=offset, ax=ax, ay=ay, amp=amp, fx=fx, fy=fy, phase=phase,
                pc=pc, noise=noise, seed=seed)


def win_size_for(h, w):
    """11 (sigma 1.5, truncate 3.5) or the largest odd number that fits the smaller side."""
    m = min(h, w)
    return 11 if m >= 11 else (m if m % 2 == 1 else m - 1)


def cases():
    grad = spec(32, 32, 3, offset=0.1, ax=0.5, ay=0.3, amp=0.05, fx=0.4, fy=0.2, pc=1.0)
    wave = spec(32, 32, 3, offset=0.5, amp=0.35, fx=0.55, fy=0.3, pc=2.1)
    blob = spec(28, 28, 1, offset=0.2, ax=0.2, amp=0.3, fx=0.35, fy=0.45, phase=0.3)
    return [
        ('rgb32 gradient vs noisy', grad, dict(grad, noise=0.2, seed=1)),
        ('rgb32 gradient vs brighter', grad, dict(grad, offset=0.2)),
        ('rgb32 wave vs phase-shifted', wave, dict(wave, phase=0.6)),
        ('rgb32 wave vs strongly noisy', wave, dict(wave, noise=0.8, seed=7)),
        ('rgb32 noise vs noise', spec(32, 32, 3, noise=1.0, seed=11), spec(32, 32, 3, noise=1.0, seed=12)),
        ('rgb32 identical', wave, wave),
        ('gray28 blob vs noisy', blob, dict(blob, noise=0.3, seed=3)),
        ('gray28 blob vs low contrast', blob, dict(blob, amp=0.1, offset=0.3)),
        ('rgb12x20 non-square', spec(12, 20, 3, offset=0.4, ax=0.3, amp=0.2, fx=0.9, fy=0.5, pc=0.7),
         spec(12, 20, 3, offset=0.4, ax=0.3, amp=0.2, fx=0.9, fy=0.5, pc=0.7, noise=0.4, seed=5)),
        ('gray11 exactly one window', spec(11, 11, 1, amp=0.4, fx=0.8, fy=0.3),
         spec(11, 11, 1, amp=0.4, fx=0.8, fy=0.3, noise=0.3, seed=9)),
        ('gray8 (window 7)', spec(8, 8, 1, amp=0.4, fx=0.8, fy=0.3),
         spec(8, 8, 1, amp=0.4, fx=0.8, fy=0.3, noise=0.3, seed=9)),
        ('rgb10x9 (window 9)', spec(10, 9, 3, amp=0.3, fx=0.6, fy=0.9, pc=1.3),
         spec(10, 9, 3, amp=0.3, fx=0.6, fy=0.9, pc=1.3, noise=0.5, seed=13)),
        ('gray3x4 (window 3)', spec(3, 4, 1, amp=0.4, fx=1.1, fy=0.7),
         spec(3, 4, 1, amp=0.4, fx=1.1, fy=0.7, noise=0.5, seed=21)),
        ('gray32 constant vs constant', spec(32, 32, 1, offset=0.3), spec(32, 32, 1, offset=0.6)),
    ]


def main():
    out = []
    for name, pa, pb in cases():
        a, b = synth(pa), synth(pb)
        a64, b64 = a.astype(np.float64), b.astype(np.float64)
        win = win_size_for(pa['h'], pa['w'])
        kw = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0,
                  channel_axis=-1)
        if win != 11:
            kw['win_size'] = win
        ssim = float(structural_similarity(a64, b64, **kw))
        mse = float(mean_squared_error(a64, b64))
        psnr = float(peak_signal_noise_ratio(a64, b64, data_range=1.0)) if mse > 0 else None
        out.append(dict(name=name, a=pa, b=pb,
                        checksum=dict(a=float(a64.sum()), b=float(b64.sum())),
                        winSize=win, mse=mse, psnr=psnr, ssim=ssim))
        print(f'{name:32s} win {win:2d}  mse {mse:.6g}  psnr {psnr}  ssim {ssim:.9f}')

    doc = dict(
        generator='test/golden/metrics_golden.py',
        skimage=skimage.__version__, numpy=np.__version__,
        note='psnr null means +Infinity (identical images); inputs are float32 images from synth()',
        ssimSettings='gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1, '
                     'channel_axis=-1, win_size=winSize',
        cases=out)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'metrics.json')
    with open(path, 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')
    print('wrote', path, file=sys.stderr)


if __name__ == '__main__':
    main()
