"""A run's journal: every finished episode, appended as it finishes, so a long evaluation
that is stopped (a killed process, a session that ends) continues where it was.

``evaluate(..., journal=path)`` writes ``path`` as JSON lines: a header with the settings
that decide what an episode is (env arguments, eval sets, wrappers, reference configs),
then one line per finished episode (the env as the run names it, and its
:class:`~mtenvs.eval.runner.EpisodeResult`), flushed line by line. Run again with the same
journal, it reads the episodes already played, plays only the missing seeds and reports
all of them; a last line cut short by the stop is dropped (that episode is played again).
A journal written with other settings is refused with the setting that differs, so one
report never mixes two configurations. ``mtenvs eval --resume`` uses
``<out>/<name>/episodes.jsonl``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from mtenvs.error import InvalidArgumentError

__all__ = ["JOURNAL_FORMAT", "SETTINGS", "Journal"]

JOURNAL_FORMAT = 1
#: The run settings that must match for a journal to continue (the others, such as the
#: episode count, the first seed or the executor, only say which episodes to play).
SETTINGS = ("eval_set", "env_kwargs", "reference_config", "wrappers")


class Journal:
    """The episodes of a run on disk (see the module doc)."""

    def __init__(self, path: str | os.PathLike[str], settings: Mapping[str, Any]) -> None:
        self.path = Path(path)
        self.settings = {k: _plain(settings.get(k)) for k in SETTINGS}
        #: ``(env, agent) -> {seed: EpisodeResult fields}`` of the episodes on disk.
        self.done: dict[tuple[str, str], dict[int, dict[str, Any]]] = {}
        self._file: IO[str] | None = None

    def load(self) -> int:
        """Read the episodes already on disk (none if there is no journal); how many."""
        if not self.path.is_file():
            return 0
        lines = self.path.read_text(encoding="utf-8").splitlines()
        records = []
        for number, line in enumerate(lines, 1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                if number == len(lines):  # cut short by the stop: play it again
                    break
                raise InvalidArgumentError(
                    f"The journal {self.path} is damaged at line {number} ({e}); delete it to "
                    "start the run over."
                ) from e
        if not records:
            return 0
        header = records[0].get("journal")
        if header != JOURNAL_FORMAT:
            raise InvalidArgumentError(
                f"{self.path} is not an mtenvs run journal (format {JOURNAL_FORMAT}); pass "
                "another run name or delete it."
            )
        written = records[0].get("settings", {})
        for key in SETTINGS:
            if written.get(key) != self.settings[key]:
                raise InvalidArgumentError(
                    f"The journal {self.path} was written with {key}={written.get(key)!r}, this "
                    f"run has {key}={self.settings[key]!r}; run with the same settings to "
                    "continue it, or under another name."
                )
        for record in records[1:]:
            result = record["result"]
            pair = (str(record["env"]), str(result["agent"]))
            self.done.setdefault(pair, {})[int(result["seed"])] = result
        return sum(len(v) for v in self.done.values())

    def start(self, *, resume: bool) -> None:
        """Open the journal for appending; without ``resume``, start it over."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume and self.path.is_file():
            self._truncate_partial_line()
            self._file = self.path.open("a", encoding="utf-8")
            return
        self._file = self.path.open("w", encoding="utf-8")
        self._write({"journal": JOURNAL_FORMAT, "settings": self.settings})

    def played(self, env: str, agent: str) -> dict[int, dict[str, Any]]:
        """The episodes of ``(env, agent)`` on disk, by seed."""
        return self.done.get((env, agent), {})

    def recorder(self, env: str) -> Callable[[Any], None]:
        """A callback that appends a finished episode of ``env`` to the journal."""

        def record(result: Any) -> None:
            self._write({"env": env, "result": asdict(result)})

        return record

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def _write(self, record: dict[str, Any]) -> None:
        if self._file is None:
            raise RuntimeError("Journal.start() first")
        self._file.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._file.flush()

    def _truncate_partial_line(self) -> None:
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            self.path.write_bytes(data[: data.rfind(b"\n") + 1])


def _plain(value: Any) -> Any:
    """``value`` as JSON would read it back (tuples as lists, keys as strings)."""
    return json.loads(json.dumps(value, default=str))
