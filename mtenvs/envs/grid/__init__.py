"""Grid worlds: Sokoban and Maze (procedural, always solvable, text or image)."""

from __future__ import annotations

from mtenvs.core.registry import register_env

register_env("mtenvs/Sokoban-v0", "mtenvs.envs.grid.sokoban:SokobanEnv")
register_env("mtenvs/Maze-v0", "mtenvs.envs.grid.maze:MazeEnv")
