#!/usr/bin/python3
"""Real images from Debian's packages as class-folder trees for osteo-decode.

    bench/realsets.py SET OUT

writes OUT/images/CLASS/PATIENT_N.png and prints the class list
(osteo-decode --classes) on stdout.  The sets, none of them made for
osteo and none tuned for (make models' own cohort is synthetic):

  textures  python3-skimage's brick, grass and gravel photographs (512x512
            gray) cut into 16x16 tiles: 3 classes, 3,072 images; a patient
            is a 64x64 block of 16 tiles, so no test tile has a neighbour
            in training (tiles of one block share texture)
  digits    python3-sklearn's handwritten digits (UCI optdigits test set,
            8x8, 17 gray levels): 10 classes, 1,797 images, one patient
            each (the writers are not in the file)
  faces     python3-skimage's lfw_subset (25x25 crops from Labeled Faces
            in the Wild, 100 faces and 100 non-faces): 2 classes, 200
            images, one patient each
"""
import gzip
import os
import sys

import numpy as np
from PIL import Image

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
SKLEARN = "/usr/lib/python3/dist-packages/sklearn/datasets/data"


def gray(path):
    return np.asarray(Image.open(path).convert("L"))


def textures():
    for k, name in enumerate(["brick", "grass", "gravel"]):
        img = gray(os.path.join(SKIMAGE, name + ".png"))
        h, w = img.shape
        for y in range(0, h - 15, 16):
            for x in range(0, w - 15, 16):
                block = (y // 64) * (w // 64) + x // 64
                yield name, "%s%03d" % (name, block), img[y:y + 16, x:x + 16]


def digits():
    with gzip.open(os.path.join(SKLEARN, "digits.csv.gz"), "rt") as f:
        rows = np.loadtxt(f, delimiter=",")
    for i, row in enumerate(rows):
        img = np.round(row[:64].reshape(8, 8) * 255 / 16).astype(np.uint8)
        yield "d%d" % int(row[64]), "D%04d" % i, img


def faces():
    x = np.load(os.path.join(SKIMAGE, "lfw_subset.npy"))
    for i, img in enumerate(x):
        yield ("face" if i < 100 else "other"), "F%03d" % i, np.round(img * 255).astype(np.uint8)


SETS = {"textures": (textures, "brick,grass,gravel"),
        "digits": (digits, ",".join("d%d" % k for k in range(10))),
        "faces": (faces, "face,other")}


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SETS:
        sys.exit("usage: realsets.py %s OUT" % "|".join(SETS))
    make, classes = SETS[sys.argv[1]]
    n = {}
    for label, patient, img in make():
        d = os.path.join(sys.argv[2], "images", label)
        os.makedirs(d, exist_ok=True)
        n[patient] = n.get(patient, 0) + 1
        Image.fromarray(img).save(os.path.join(d, "%s_%d.png" % (patient, n[patient])))
    print(classes)


main()
