"""``mtenvs images …`` and ``mtenvs sandbox …`` commands, and the sandbox rows of ``doctor``.

Mounted into the main CLI with ``app.add_typer(images_app, name="images")`` and
``app.add_typer(sandbox_app, name="sandbox")``; also runnable on its own:
``python -m mtenvs.sandbox.cli images build`` (scripts/ensure_docker.sh does that).
"""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mtenvs.error import Error, choice_error
from mtenvs.sandbox.backend import ENV_VAR, resolve_backend
from mtenvs.sandbox.base import DEFAULT_LIMITS
from mtenvs.sandbox.engine import docker_client
from mtenvs.sandbox.images import IMAGES, build_images, image_current, image_present, image_tag
from mtenvs.sandbox.local_sandbox import local_identity, local_isolation
from mtenvs.sandbox.reaper import list_containers, reap

__all__ = ["app", "doctor_rows", "images_app", "sandbox_app"]

console = Console()
images_app = typer.Typer(help="Build and list the sandbox images.", no_args_is_help=True)
sandbox_app = typer.Typer(help="Inspect and clean up sandboxes.", no_args_is_help=True)
app = typer.Typer(
    help="mtenvs sandbox tools.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(images_app, name="images")
app.add_typer(sandbox_app, name="sandbox")


def _fail(err: Exception) -> typer.Exit:
    console.print(f"[bold red]error:[/] {err}")
    return typer.Exit(code=2)


@images_app.command("build")
def images_build(
    name: Annotated[
        list[str] | None, typer.Argument(help="Images to build (default: all).")
    ] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even when the tag exists.")] = False,
) -> None:
    """Build the sandbox images (tags carry the package version); a no-op when built."""
    try:
        for n in name or []:
            if n not in IMAGES:
                raise choice_error("image", n, list(IMAGES))
        tags = build_images(name or None, force=force, console=console)
    except Error as e:
        raise _fail(e) from e
    console.print(f"[green]ready:[/] {', '.join(tags)}")


@images_app.command("list")
def images_list() -> None:
    """Show each sandbox image and whether it is built."""
    try:
        client = docker_client()
        table = Table(title="mtenvs sandbox images")
        for col in ("image", "tag", "built", "description"):
            table.add_column(col)
        for spec in IMAGES.values():
            built = (
                "yes"
                if image_current(client, spec)
                else "[yellow]stale: run `mtenvs images build`"
                if image_present(client, image_tag(spec.name))
                else "[red]no"
            )
            table.add_row(spec.name, image_tag(spec.name), built, spec.description)
    except Error as e:
        raise _fail(e) from e
    console.print(table)


@sandbox_app.command("reap")
def sandbox_reap(
    dry_run: Annotated[bool, typer.Option(help="Only list what would be removed.")] = False,
    all_hosts: Annotated[
        bool, typer.Option(help="Also remove containers of other hosts / pid namespaces.")
    ] = False,
    everything: Annotated[
        bool, typer.Option(help="Remove every mtenvs container, even of live processes.")
    ] = False,
) -> None:
    """Remove mtenvs containers whose owner process is gone."""
    try:
        removed = reap(dry_run=dry_run, all_hosts=all_hosts, everything=everything)
    except Error as e:
        raise _fail(e) from e
    verb = "would remove" if dry_run else "removed"
    if not removed:
        console.print("no leftover mtenvs containers")
        return
    table = Table(title=f"{verb} {len(removed)} container(s)")
    for col in ("id", "name", "owner pid", "session", "status", "reason"):
        table.add_column(col)
    for r in removed:
        table.add_row(r.id, r.name, r.owner, r.session, r.status, r.reason)
    console.print(table)


@sandbox_app.command("info")
def sandbox_info() -> None:
    """Which backend `sandbox="auto"` uses here, and why."""
    table = Table(title="mtenvs sandbox", show_header=False)
    for key, value in doctor_rows():
        table.add_row(key, value)
    console.print(table)


def doctor_rows() -> list[tuple[str, str]]:
    """``(name, value)`` rows for ``mtenvs doctor``: backend in use and why, images, leftovers."""
    rows: list[tuple[str, str]] = []
    try:
        choice = resolve_backend(refresh=True)
        rows.append(("sandbox backend", f"{choice.backend} — {choice.reason}"))
    except Error as e:
        rows.append(("sandbox backend", f"unusable — {e}"))
        choice = None
    rows.append((ENV_VAR, os.environ.get(ENV_VAR, "(unset: auto)")))
    rows.append(("sandbox image", image_tag("python")))
    if choice is None or choice.backend == "local":
        iso = local_isolation()
        have = ["rlimits", "scrubbed env", "temp dir"] + [k for k, ok in iso.items() if ok]
        missing = [k for k, ok in iso.items() if not ok]
        text = ", ".join(have) + (f"; missing: {', '.join(missing)}" if missing else "")
        rows.append(("local isolation", text.replace("_", " ")))
        rows.extend(local_identity().items())
    else:
        lim = DEFAULT_LIMITS
        rows.append(
            (
                "sandbox user and limits",
                f"uid:gid {lim.user} in the container, no capabilities; per container "
                f"(cgroup): memory {lim.memory_bytes // 2**20} MiB (no swap), "
                f"{lim.pids} pids, {lim.cpus:g} CPU; no network",
            )
        )
        try:
            rows.append(("mtenvs containers", str(len(list_containers()))))
        except Exception as e:  # doctor reports, never fails
            rows.append(("mtenvs containers", f"cannot list ({type(e).__name__})"))
    return rows


if __name__ == "__main__":  # pragma: no cover
    app()
