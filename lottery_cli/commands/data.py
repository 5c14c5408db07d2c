"""Download and verify the official MNIST / CIFAR-10 / CIFAR-100 files (fetch, check).

`lottery data fetch DATASET... [--dir D] [--mirror URL]` downloads the official archives,
verifies their published MD5s, unpacks them where the loaders look (D/mnist/,
D/cifar-10-batches-py/, D/cifar-100-python/) and resumes an interrupted download.
`lottery data check [DATASET...] [--dir D]` reports each data set as ok, missing,
incomplete or corrupt and exits 1 if a present file is corrupt. D defaults to
$LOTTERY_DATA, else $XDG_CACHE_HOME/lottery/data (~/.cache/lottery/data); the mirror to
$LOTTERY_DATA_MIRROR, else the official servers. See docs/data.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

DIR_HELP = ("data folder (default: $LOTTERY_DATA, else $XDG_CACHE_HOME/lottery/data, "
            "i.e. ~/.cache/lottery/data)")


def add_arguments(parser) -> None:
    from lottery_core.data_sources import SOURCES

    names = ", ".join(SOURCES)
    sub = parser.add_subparsers(dest="action", metavar="ACTION")
    sub.required = True
    fetch = sub.add_parser("fetch", help="download, verify and unpack data sets",
                           description=__doc__)
    fetch.add_argument("datasets", nargs="+", metavar="DATASET", help=names)
    fetch.add_argument("--dir", type=Path, default=None, help=DIR_HELP)
    fetch.add_argument("--mirror", default=None, metavar="URL",
                       help="base URL serving the official file names (http://, https:// "
                            "or file://; default: $LOTTERY_DATA_MIRROR, else the official "
                            "servers)")
    check = sub.add_parser("check", help="verify the data sets present in a folder",
                           description=__doc__)
    check.add_argument("datasets", nargs="*", metavar="DATASET",
                       help=f"{names} (default: all)")
    check.add_argument("--dir", type=Path, default=None, help=DIR_HELP)


def _names(requested: list[str]) -> list[str]:
    from lottery_core.data_sources import SOURCES
    from lottery_core.errors import UsageError

    for name in requested:
        if name not in SOURCES:
            raise UsageError(f"unknown data set {name!r}; available: {', '.join(SOURCES)}")
    return list(dict.fromkeys(requested or SOURCES))


def main(args) -> int:
    from lottery_core import data_fetch
    from lottery_core.errors import DataError, UsageError

    names = _names(args.datasets)
    root = args.dir if args.dir is not None else data_fetch.default_data_dir()
    if args.action == "fetch":
        try:
            if args.mirror is not None:
                data_fetch.check_mirror(args.mirror)
        except DataError as exc:
            raise UsageError(str(exc)) from None
        for name in names:
            try:
                status = data_fetch.fetch(name, root, mirror=args.mirror)
            except DataError as exc:
                print(f"lottery data fetch: error: {exc}", file=sys.stderr)
                return 1
            print(f"{name}: ok ({len(status.files)} files verified) in {root}")
        print(f"use it with --data-dir {root} (or LOTTERY_DATA={root})")
        return 0
    if not root.is_dir():
        raise UsageError(f"data folder {root} does not exist")
    corrupt = False
    for name in names:
        status = data_fetch.check_dataset(name, root)
        corrupt |= status.status == "corrupt"
        print(f"{name:9s} {status.status:10s} {status.files[0].path.parent}")
        for file in status.files:
            if status.status == "corrupt" and file.status == "corrupt":
                print(f"  corrupt: {file.detail}")
            elif status.status != "missing" and file.status == "missing":
                print(f"  missing: {file.path}")
    return 1 if corrupt else 0
