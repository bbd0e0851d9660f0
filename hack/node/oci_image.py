"""Write a one-layer image archive (the `docker save` format) from a folder, without Docker.

Why: the node tier's sandbox ("pause") image must exist before any pod runs, and no registry is
reachable, so it is made from a locally built binary. The archive is what `ctr images import`
reads (the same path the operator's image takes, from `docker save`). The output is reproducible:
fixed timestamps and owners, sorted entries.

    python hack/node/oci_image.py --rootfs DIR --entrypoint /pause --name NAME:TAG --output X.tar
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import tarfile
from pathlib import Path


def _layer(rootfs: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(rootfs.rglob("*")):
            info = tar.gettarinfo(str(path), arcname=str(path.relative_to(rootfs)))
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = 0
            if info.isfile():
                with path.open("rb") as data:
                    tar.addfile(info, data)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def write_image(rootfs: Path, entrypoint: list[str], name: str, output: Path) -> None:
    """Write `rootfs` as a one-layer image called `name` to `output` (docker-archive format)."""
    layer = _layer(rootfs)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Entrypoint": entrypoint},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        },
        sort_keys=True,
    ).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    layer_name = hashlib.sha256(layer).hexdigest() + "/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [name], "Layers": [layer_name]}])
    with tarfile.open(output, mode="w", format=tarfile.PAX_FORMAT) as tar:
        _add(tar, config_name, config)
        _add(tar, layer_name, layer)
        _add(tar, "manifest.json", manifest.encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rootfs", type=Path, required=True)
    parser.add_argument("--entrypoint", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    write_image(args.rootfs, [args.entrypoint], args.name, args.output)


if __name__ == "__main__":
    main()
