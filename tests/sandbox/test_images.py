"""Image freshness: a label with a hash of each image's sources, checked before reuse."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mtenvs.sandbox.images import (
    IMAGES,
    image_current,
    image_status,
    image_tag,
    sandboxes_dir,
    source_hash,
)


@pytest.fixture
def sources_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of sandboxes/ that MTENVS_SANDBOXES_DIR points at."""
    copy = tmp_path / "sandboxes"
    shutil.copytree(sandboxes_dir(), copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setenv("MTENVS_SANDBOXES_DIR", str(copy))
    return copy


def test_source_hash_follows_every_copied_file_and_the_dockerfile(sources_copy: Path) -> None:
    before = {name: source_hash(spec) for name, spec in IMAGES.items()}
    assert all(before.values()) and len(set(before.values())) == len(IMAGES)
    assert source_hash(IMAGES["web"]) == before["web"]  # stable

    with (sources_copy / "web" / "admin.py").open("a") as f:
        f.write("\n# edited\n")
    assert source_hash(IMAGES["web"]) != before["web"]
    assert source_hash(IMAGES["python"]) == before["python"]  # other images unaffected

    (sources_copy / "web" / "new_site.py").write_text("X = 1\n")  # a new file counts too
    edited = source_hash(IMAGES["web"])
    (sources_copy / "web" / "new_site.py").unlink()
    assert source_hash(IMAGES["web"]) != edited

    with (sources_copy / "runtime" / "repl_server.py").open("a") as f:
        f.write("\n# edited\n")
    assert source_hash(IMAGES["python"]) != before["python"]
    with (sources_copy / "postgres" / "Dockerfile").open("a") as f:
        f.write("\n# edited\n")
    assert source_hash(IMAGES["postgres"]) != before["postgres"]


@pytest.mark.docker
def test_built_images_are_current_and_an_edit_makes_them_stale(
    docker_engine: object, sources_copy: Path
) -> None:
    # make test builds every image from this checkout: all current
    for spec in IMAGES.values():
        assert image_current(docker_engine, spec), spec.name
    with (sources_copy / "web" / "server.py").open("a") as f:
        f.write("\n# edited\n")
    assert not image_current(docker_engine, IMAGES["web"])  # `images build` would rebuild it
    assert image_current(docker_engine, IMAGES["python"])


@pytest.mark.docker
def test_image_status_accepts_names_and_tags_and_warns_about_a_stale_image(
    docker_engine: object, sources_copy: Path
) -> None:
    usable, why = image_status("python")
    assert usable and image_tag("python") in why
    assert image_status(image_tag("web"))[0]
    usable, why = image_status("mtenvs/no-such-image:0")
    assert not usable and "mtenvs/no-such-image:0 is not built" in why

    with (sources_copy / "web" / "server.py").open("a") as f:
        f.write("\n# edited\n")
    with pytest.warns(UserWarning, match=r"mtenvs images build web"):
        usable, _ = image_status(image_tag("web"))
    assert usable  # a stale image still runs; the warning says how to rebuild it
