"""Where the official MNIST / CIFAR-10 / CIFAR-100 files come from and their published MD5s.

:data:`SOURCES` is the checksum table that ``lottery data fetch`` and ``lottery data check``
(:mod:`lottery_core.data_fetch`) verify against. It is a plain argument of those functions
(``sources=``) so that a test can serve a home-made archive and pass its own table; nothing
else should replace it.

Sources of the numbers:

* MNIST archives (``.gz``) and base URLs: torchvision ``torchvision/datasets/mnist.py``
  (``MNIST.mirrors``, ``MNIST.resources``), pytorch/vision.
* MNIST uncompressed IDX payloads: the image files' MD5s are the ones stated in
  ``../shared/data/README.md``; all four (images and labels) were cross-checked against a
  published table, secml's ``secml/data/loader/c_dataloader_mnist.py`` (pralab/secml), and
  recomputed here from the files in ``../shared/data/mnist`` (which match all four).
* CIFAR-10 / CIFAR-100 archives and every file inside them: torchvision
  ``torchvision/datasets/cifar.py`` (``tgz_md5``, ``train_list``, ``test_list``, ``meta``).
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class DataFile:
    """One file the loaders read.

    ``path``: relative to the data folder. ``md5``: MD5 of its content as the loader reads
    it; for a ``.gz`` file, of the *decompressed* payload, so that a re-compressed copy of the
    same bytes is accepted. ``gz_md5``: for a ``.gz`` file, the published MD5 of the official
    compressed file (accepted as well)."""

    path: str
    md5: str
    gz_md5: str | None = None


@dataclasses.dataclass(frozen=True)
class Download:
    """One file on the server. ``unpack`` is ``"none"`` (the download is ``files[0]``
    itself) or ``"tar"`` (a ``.tar.gz`` whose members named by ``files`` are extracted; the
    archive is removed afterwards). ``md5``: the published MD5 of the download."""

    filename: str
    md5: str
    unpack: str
    files: tuple[DataFile, ...]


@dataclasses.dataclass(frozen=True)
class Source:
    """A data set: the official base URLs (tried in order) and its downloads."""

    urls: tuple[str, ...]
    downloads: tuple[Download, ...]

    @property
    def files(self) -> tuple[DataFile, ...]:
        return tuple(f for d in self.downloads for f in d.files)


def _mnist_file(name: str, gz_md5: str, md5: str) -> Download:
    return Download(name, gz_md5, "none", (DataFile(f"mnist/{name}", md5, gz_md5),))


def _tar(filename: str, md5: str, folder: str, members: dict[str, str]) -> Download:
    return Download(filename, md5, "tar",
                    tuple(DataFile(f"{folder}/{name}", m) for name, m in members.items()))


SOURCES: dict[str, Source] = {
    "mnist": Source(
        urls=("https://ossci-datasets.s3.amazonaws.com/mnist/",
              "http://yann.lecun.com/exdb/mnist/"),
        downloads=(
            _mnist_file("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                        "6bbc9ace898e44ae57da46a324031adb"),
            _mnist_file("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432",
                        "a25bea736e30d166cdddb491f175f624"),
            _mnist_file("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
                        "2646ac647ad5339dbf082846283269ea"),
            _mnist_file("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c",
                        "27ae3e4e09519cfbb04c329615203637"),
        )),
    "cifar10": Source(
        urls=("https://www.cs.toronto.edu/~kriz/",),
        downloads=(_tar("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
                        "cifar-10-batches-py", {
                            "data_batch_1": "c99cafc152244af753f735de768cd75f",
                            "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
                            "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
                            "data_batch_4": "634d18415352ddfa80567beed471001a",
                            "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
                            "test_batch": "40351d587109b95175f43aff81a1287e",
                            "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
                        }),)),
    "cifar100": Source(
        urls=("https://www.cs.toronto.edu/~kriz/",),
        downloads=(_tar("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85",
                        "cifar-100-python", {
                            "train": "16019d7e3df5f24257cddd939b257f8d",
                            "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
                            "meta": "7973b15100ade9c7d40fb424638fde48",
                        }),)),
}
