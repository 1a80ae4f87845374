"""A directory of images as a dataset (`--dataset=folder:PATH`).

Layouts:
    PATH/*.png                  flat: unconditional variants
    PATH/<class name>/*.png     one sub-folder per class: acgan (any variant may use it)
PNG, JPEG, GIF and BMP files count (by extension, case-insensitive); other files and hidden
ones are ignored.

`scan` keeps only the sorted list of paths and labels in memory: the pixels are decoded inside
tf.data, batch by batch, so memory does not grow with the folder. It reads each file's header
(size, colour mode) and trailer (PNG IEND, JPEG EOI, GIF terminator, BMP declared size) rather
than decoding it, so 60,000 files are checked in seconds; a file that is not an image of its
type, or is cut short, is skipped and counted, never silently trained on.
"""
import collections
import dataclasses
import os
import struct

import numpy as np
import tensorflow as tf

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".gif", ".bmp")
PREFIX = "folder:"
_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 1, 6: 3}  # colour type -> channels kept (alpha dropped)


class FolderError(ValueError):
    """The folder cannot be trained on; the message says what to change."""


@dataclasses.dataclass(frozen=True)
class ImageFolder:
    root: str
    files: np.ndarray          # [N] absolute paths, sorted (by class, then name)
    labels: np.ndarray         # [N] int32 class index (zeros when flat)
    class_names: tuple         # sorted sub-folder names; () when flat
    sizes: collections.Counter  # (height, width) -> number of files
    colour: int                # files whose pixels have colour
    skipped: tuple             # (relative path, reason) of files left out

    @property
    def channels(self):
        """3 when any file has colour (grey ones are read as grey RGB), else 1."""
        return 3 if self.colour else 1


def is_folder(name):
    return isinstance(name, str) and name.startswith(PREFIX)


def _images_in(directory):
    return sorted(e.path for e in os.scandir(directory) if e.is_file()
                  and not e.name.startswith(".") and e.name.lower().endswith(IMAGE_EXTENSIONS))


def _jpeg_header(f):
    """(height, width, channels) from the first start-of-frame marker."""
    f.seek(2)
    while True:
        marker = f.read(2)
        if len(marker) < 2 or marker[0] != 0xFF:
            raise ValueError("no JPEG frame header")
        if marker[1] in (0xD8, 0x01) or 0xD0 <= marker[1] <= 0xD7:
            continue
        length = struct.unpack(">H", f.read(2))[0]
        if 0xC0 <= marker[1] <= 0xCF and marker[1] not in (0xC4, 0xC8, 0xCC):
            _, h, w, components = struct.unpack(">BHHB", f.read(6))
            return h, w, 1 if components == 1 else 3
        f.seek(length - 2, os.SEEK_CUR)


def probe(path):
    """(height, width, channels) of an image file, read from its header; raises ValueError
    naming what is wrong when the file is not a complete image of its type."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(32)
        f.seek(max(0, size - 16))
        tail = f.read()
        if head.startswith(b"\x89PNG\r\n\x1a\n") and head[12:16] == b"IHDR":
            w, h, _, colour_type = struct.unpack(">IIBB", head[16:26])
            if b"IEND" not in tail:
                raise ValueError("truncated PNG")
            return h, w, _PNG_CHANNELS.get(colour_type, 3)
        if head.startswith(b"\xff\xd8"):
            if b"\xff\xd9" not in tail.rstrip(b"\x00\r\n "):
                raise ValueError("truncated JPEG")
            return _jpeg_header(f)
        if head[:6] in (b"GIF87a", b"GIF89a"):
            if not tail.rstrip(b"\x00").endswith(b";"):
                raise ValueError("truncated GIF")
            w, h = struct.unpack("<HH", head[6:10])
            return h, w, 3
        if head.startswith(b"BM") and len(head) >= 30:
            declared, = struct.unpack("<I", head[2:6])
            if declared > size:
                raise ValueError(f"truncated BMP ({size} of {declared} bytes)")
            w, h = struct.unpack("<ii", head[18:26])
            return abs(h), w, 3
    raise ValueError("not a PNG, JPEG, GIF or BMP image")


def scan(path, with_classes):
    """The images of folder `path`: flat, or one sub-folder per class when `with_classes`.

    Raises:
        FolderError: missing or empty folder, no readable image, a flat folder where classes
            are needed (or loose images beside the class folders), a class folder without images.
    """
    if not os.path.isdir(path):
        what = "is a file, not a folder" if os.path.exists(path) else "does not exist"
        raise FolderError(f"{path} {what}; pass --dataset=folder:DIR with a directory of images")
    top = _images_in(path)
    subdirs = sorted(e.name for e in os.scandir(path) if e.is_dir() and not e.name.startswith("."))
    classes = [(d, _images_in(os.path.join(path, d))) for d in subdirs]
    classes = [(d, files) for d, files in classes if files or with_classes]
    if not top and not any(files for _, files in classes):
        raise FolderError(f"{path} holds no images (.png, .jpg, .jpeg, .gif, .bmp), neither "
                          "directly nor in sub-folders; point --dataset=folder: at your images")
    if with_classes:
        if not classes:
            raise FolderError(f"acgan needs one sub-folder per class in {path}, which is flat "
                              f"({len(top)} images directly in it); move each class's images into "
                              "a sub-folder named after the class, or train an unconditional model")
        if top:
            raise FolderError(f"{path} has {len(top)} images beside its class sub-folders; "
                              "move them into a class sub-folder (acgan learns from labelled "
                              "images only)")
        empty = [d for d, files in classes if not files]
        if empty:
            raise FolderError(f"class folder {os.path.join(path, empty[0])} holds no images; "
                              "remove it or add its images")
        if len(classes) < 2:
            raise FolderError(f"acgan needs at least 2 classes and {path} has one sub-folder "
                              f"({classes[0][0]}); add a sub-folder per class")
    entries = [(p, 0) for p in top] + [(p, i if with_classes else 0)
                                       for i, (_, files) in enumerate(classes) for p in files]
    keep, labels, sizes, colour, skipped = [], [], collections.Counter(), 0, []
    for file, label in entries:
        try:
            h, w, c = probe(file)
            if h < 1 or w < 1:
                raise ValueError("empty image")
        except (OSError, ValueError, struct.error) as e:
            skipped.append((os.path.relpath(file, path), str(e) or type(e).__name__))
            continue
        keep.append(os.path.abspath(file))
        labels.append(label)
        sizes[(h, w)] += 1
        colour += c == 3
    if not keep:
        raise FolderError(f"none of the {len(entries)} image files in {path} can be read "
                          f"({skipped[0][0]}: {skipped[0][1]}); check the files")
    if with_classes:
        lost = sorted(set(range(len(classes))) - set(labels))
        if lost:
            raise FolderError(f"every image of class folder {classes[lost[0]][0]} in {path} is "
                              "unreadable; fix its files or remove the folder")
    return ImageFolder(path, np.array(keep), np.array(labels, np.int32),
                       tuple(d for d, _ in classes) if with_classes else (), sizes, colour,
                       tuple(skipped))


def describe(folder, side, channels):
    """The one-line note a run prints and records about the folder it trains on."""
    parts = [f"{len(folder.files):,} images"]
    if folder.class_names:
        parts.append(f"{len(folder.class_names)} classes ({', '.join(folder.class_names[:10])}"
                     f"{', ...' if len(folder.class_names) > 10 else ''})")
    if folder.skipped:
        shown = "; ".join(f"{p}: {why}" for p, why in folder.skipped[:3])
        parts.append(f"skipped {len(folder.skipped)} unreadable or truncated file(s) ({shown}"
                     f"{'; ...' if len(folder.skipped) > 3 else ''})")
    if len(folder.sizes) > 1 or any(h != side or w != side for h, w in folder.sizes):
        (h0, w0), (h1, w1) = min(folder.sizes), max(folder.sizes)
        sizes = f"{len(folder.sizes)} sizes ({h0}x{w0} to {h1}x{w1})" if len(folder.sizes) > 1 \
            else f"{h0}x{w0}"
        parts.append(f"{sizes} centre-cropped and resized to {side}x{side}")
    if 0 < folder.colour < len(folder.files):
        parts.append(f"grey and colour files mixed: read as {channels} channel(s)"
                     f"{' (--channels=1 for grey)' if channels == 3 else ''}")
    return f"folder {folder.root}: " + ", ".join(parts)


def decode(path, side, channels):
    """One file -> [side, side, channels] float32 in [-1, 1]: decoded, centre-cropped to a
    square, resized (antialiased) to `side`."""
    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    if channels == 1:  # uint8 round trip: grey files come back exactly
        image = tf.image.rgb_to_grayscale(image)
    shape = tf.shape(image)
    crop = tf.minimum(shape[0], shape[1])
    image = tf.image.crop_to_bounding_box(image, (shape[0] - crop) // 2, (shape[1] - crop) // 2,
                                          crop, crop)
    x = tf.cast(image, tf.float32) / 127.5 - 1.0
    x = tf.image.resize(x, (side, side), antialias=True)
    return tf.clip_by_value(tf.ensure_shape(x, (side, side, channels)), -1.0, 1.0)
