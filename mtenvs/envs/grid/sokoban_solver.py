"""Exact Sokoban solver: optimal move counts (a walk and a push each cost 1) from any state.

:class:`SokobanSolver` keeps, per level, a table ``state -> (optimal remaining moves, an
optimal next move)`` and fills it in one of two ways:

* **full table** (small state spaces, e.g. every ``easy`` and most ``medium`` levels): one
  backward breadth-first search from every solved state, built the first time a state off a
  known optimal path is asked about. Every solvable state is then in the table, so any
  query, deadlock detection included, is one dict lookup.
* **lazy A\\*** (larger state spaces): A* from the asked state, with an admissible heuristic
  (min-cost matching of boxes to targets by push distance, plus the walk to the nearest box)
  and pruning of pushes onto dead squares and of freeze deadlocks. The search also stops at
  any state whose exact distance is already in the table, so after the first solve a
  deviation from the optimal path is usually re-solved in a handful of expansions. Every
  state on the path found is recorded (sub-paths of optimal paths are optimal); a search
  that exhausts marks every state it visited unsolvable.

States are packed into one int, ``boxes << shift | player`` (see :mod:`.sokoban_rules`).
"""

from __future__ import annotations

import heapq
import itertools
import math
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from mtenvs.envs.grid.sokoban_rules import Level, box_cells

__all__ = [
    "FULL_TABLE_LIMIT",
    "SOLVER_CACHE_SIZE",
    "UNSOLVABLE",
    "SokobanSolver",
    "Solution",
    "share_solver",
    "solver_for",
]

#: Largest estimated state count for which the full table is built (about 3 µs a state).
FULL_TABLE_LIMIT = 40_000
#: The lazy table is cleared when it grows past this many states (bounded memory per level).
MAX_LAZY_ENTRIES = 200_000
_INF = 1 << 30
UNSOLVABLE = -1


@dataclass(frozen=True)
class Solution:
    """An optimal plan: ``moves`` are indices into ``DIRECTIONS``; ``len(moves) == distance``."""

    distance: int
    moves: tuple[int, ...]


class SokobanSolver:
    """Optimal distances and plans for one :class:`Level`; see the module doc."""

    def __init__(self, level: Level, *, full_table_limit: int = FULL_TABLE_LIMIT) -> None:
        self.level = level
        n = level.height * level.width
        self.shift = max(8, (n - 1).bit_length())
        self._pmask = (1 << self.shift) - 1
        self._push_dist = [self._push_distances(t) for t in sorted(level.targets)]
        # Dead: a wall, or a cell from which no push brings a box to any target (written
        # with C-level loops: a solver is built on every reset onto a new level).
        dead = bytearray(b"\x01") * n
        for dist in self._push_dist:
            for c in itertools.compress(range(n), map(_INF.__gt__, dist)):
                dead[c] = 0  # pushes never start on a wall, so c is floor
        self.dead = bytes(dead)
        width = level.width
        self._rows = list(itertools.chain.from_iterable([r] * width for r in range(level.height)))
        self._cols = list(range(width)) * level.height
        floor = n - sum(level.wall)
        live = self.dead.count(0)
        self.estimated_states = floor * math.comb(live, level.num_boxes)
        self.use_full_table = self.estimated_states <= full_table_limit
        self._full = False
        #: key -> (distance << 2 | best move), or UNSOLVABLE.
        self._table: dict[int, int] = {}
        self._hbox: dict[int, int] = {}

    # ------------------------------------------------------------------ public API

    def key(self, player: int, boxes: int) -> int:
        return boxes << self.shift | player

    def distance(self, player: int, boxes: int) -> int:
        """Optimal number of moves to solve from this state; ``UNSOLVABLE`` (-1) if none."""
        entry = self._table.get(boxes << self.shift | player)
        if entry is None:
            entry = self._lookup(boxes << self.shift | player)
        return entry if entry < 0 else entry >> 2

    def best_move(self, player: int, boxes: int) -> int | None:
        """An optimal next move, or ``None`` when solved or unsolvable."""
        entry = self._table.get(boxes << self.shift | player)
        if entry is None:
            entry = self._lookup(boxes << self.shift | player)
        return None if entry < 4 else entry & 3  # entry < 4: solved (0) or UNSOLVABLE

    def plan(self, player: int, boxes: int, limit: int | None = None) -> list[int]:
        """The next ``limit`` (default: all) moves of an optimal plan; empty if unsolvable."""
        moves: list[int] = []
        while limit is None or len(moves) < limit:
            move = self.best_move(player, boxes)
            if move is None:
                break
            moves.append(move)
            player, boxes, _ = self.level.move_raw(player, boxes, move)
        return moves

    def solve(self, player: int, boxes: int, node_limit: int | None = None) -> Solution | None:
        """An optimal solution from this state; ``None`` if the state is unsolvable or the
        A* search needed more than ``node_limit`` expansions (used by the level generator)."""
        key = boxes << self.shift | player
        entry = self._table.get(key)
        if entry is None:
            if self.use_full_table:
                entry = self._lookup(key)
            elif self._astar(key, node_limit):
                entry = self._table[key]
            else:
                return None
        if entry < 0:
            return None
        return Solution(entry >> 2, tuple(self.plan(player, boxes)))

    def learn_path(self, player: int, boxes: int, moves: Iterable[int]) -> None:
        """Record a known optimal plan from this state (e.g. a task's stored solution): its
        moves become the table's best moves along it, so an agent following it never
        triggers a search and :meth:`plan` from this state replays it, whatever the table
        held before."""
        states, moves = [], list(moves)
        wall, deltas, shift = self.level.wall, self.level.deltas, self.shift
        for move in moves:
            states.append(boxes << shift | player)
            # Level.move_raw, inlined (this runs on every reset): a blocked move is a no-op.
            d = deltas[move]
            t = player + d
            if wall[t]:
                continue
            if boxes >> t & 1:
                u = t + d
                if wall[u] or boxes >> u & 1:
                    continue
                boxes ^= 1 << t | 1 << u
            player = t
        if boxes != self.level.targets_mask:
            raise ValueError("the plan does not solve the level")
        table = self._table
        table[boxes << self.shift | player] = 0
        total = len(moves)
        for i, (key, move) in enumerate(zip(states, moves)):
            table[key] = (total - i) << 2 | move

    def pack_table(self) -> bytes:
        """The full table as bytes (built first if need be), for a bank to ship; read back
        by :meth:`load_table`. Entries in table order; columns: the player's cell of each
        (one byte), its box cells (``num_boxes`` bytes each, ascending), its value
        (``distance << 2 | move``, two bytes little-endian)."""
        if not self.use_full_table:
            raise ValueError("only a full table can be packed; this level is searched lazily")
        self.prepare()
        pmask, shift = self._pmask, self.shift
        players, cells, values = bytearray(), bytearray(), array("H")
        for key, value in self._table.items():
            players.append(key & pmask)
            cells.extend(box_cells(key >> shift))
            values.append(value)  # OverflowError past 65535: a 16-bit field cannot hold it
        if sys.byteorder == "big":
            values.byteswap()
        return bytes(players) + bytes(cells) + values.tobytes()

    def load_table(self, packed: bytes) -> None:
        """Take a full table packed by :meth:`pack_table` (of this level) instead of building
        it; a no-op once the table is built."""
        if self._full or not self.use_full_table:
            return
        k, n = self.level.num_boxes, len(self.level.wall)
        count = len(packed) // (k + 3)
        if count * (k + 3) != len(packed):
            raise ValueError(f"a packed table of {len(packed)} bytes is not whole entries")
        bits = [1 << (c + self.shift) for c in range(n)]
        players, cells = packed[:count], packed[count : count * (k + 1)]
        values = array("H", packed[count * (k + 1) :])
        if sys.byteorder == "big":
            values.byteswap()
        if k == 1:
            keys = [bits[b] | p for p, b in zip(players, cells, strict=True)]
        else:
            keys = [
                sum(bits[b] for b in cells[i * k : i * k + k]) | p for i, p in enumerate(players)
            ]
        self._table = dict(zip(keys, values, strict=True))
        self._full = True

    def prepare(self) -> None:
        """Build the full table now if this level uses one, so that no later query waits on
        the build (the env calls it on reset, which the rollout engine overlaps with the
        agent's turn). Call it before :meth:`learn_path`: the build replaces the table."""
        if self.use_full_table and not self._full:
            self._build_full_table()

    # ------------------------------------------------------------------ internals

    def _lookup(self, key: int) -> int:
        if self.use_full_table:
            if not self._full:
                self._build_full_table()
            return self._table.get(key, UNSOLVABLE)
        self._astar(key, None)
        return self._table[key]

    def _push_distances(self, target: int) -> list[int]:
        """Pushes needed to bring a lone box from each cell to ``target`` (walls only)."""
        wall, deltas = self.level.wall, self.level.deltas
        dist = [_INF] * (self.level.height * self.level.width)
        dist[target] = 0
        queue = [target]
        for x in queue:  # a list read while it grows: a FIFO queue
            step = dist[x] + 1
            for d in deltas:
                # The box came from y = x - d, pushed by a player standing on y - d.
                y = x - d
                if dist[y] == _INF and not wall[y] and not wall[y - d]:
                    dist[y] = step
                    queue.append(y)
        return dist

    def _build_full_table(self) -> None:
        """Backward BFS from every solved state: afterwards a missing state is unsolvable.

        Layer by layer (the FIFO order of a queue, so each state keeps the move it was
        first reached by), with each cell's possible predecessors listed once: this runs
        on every reset onto a new level."""
        level, shift = self.level, self.shift
        wall, goal, n = level.wall, level.targets_mask, len(level.wall)
        # The search runs on small ints, ``c * n + player`` with ``c`` the index of the box
        # set in ``configs`` (in order of discovery), and converts to the table's keys
        # (``boxes << shift | player``, ints of several machine words) once at the end:
        # arithmetic on small ints is several times cheaper.
        configs = [goal]
        config_index = {goal: 0}
        # occupied[c][cell] is 1 where box set c has a box.
        occupied = [_occupancy(goal, n)]
        # For a player on p: (move, d, q, b), the player stood on q = p - d (not a wall) and
        # made ``move``; b = p + d is where a box it pushed from p now stands.
        into: list[tuple[tuple[int, int, int, int], ...]] = [()] * n
        floor = level.floor_cells()
        for p in floor:
            into[p] = tuple(
                [(m, d, p - d, p + d) for m, d in enumerate(level.deltas) if not wall[p - d]]
            )
        found: dict[int, int] = {}
        frontier: list[int] = []
        for p in floor:
            if not goal >> p & 1:
                found[p] = 0
                frontier.append(p)
        distance = 0
        while frontier:
            distance += 1
            nxt = distance << 2
            reached: list[int] = []
            for key in frontier:
                c, p = divmod(key, n)
                occ = occupied[c]
                for move, d, q, b in into[p]:
                    if occ[q]:
                        continue
                    k = key - d
                    if k not in found:
                        found[k] = nxt | move
                        reached.append(k)
                    if occ[b]:  # ... and pushed the box now on b from p
                        pulled = configs[c] ^ (1 << b | 1 << p)
                        c2 = config_index.get(pulled)
                        if c2 is None:
                            c2 = config_index[pulled] = len(configs)
                            configs.append(pulled)
                            occupied.append(_occupancy(pulled, n))
                        k = c2 * n + q
                        if k not in found:
                            found[k] = nxt | move
                            reached.append(k)
            frontier = reached
        keys = [boxes << shift for boxes in configs]
        table = {keys[k // n] | k % n: value for k, value in found.items()}
        self._table = table
        self._full = True

    def _box_heuristic(self, boxes: int) -> int:
        """Min-cost matching of boxes to targets by push distance; ``_INF`` if impossible."""
        cached = self._hbox.get(boxes)
        if cached is not None:
            return cached
        cells = list(box_cells(boxes))
        best = _INF
        for perm in itertools.permutations(self._push_dist):
            cost = 0
            for dist, b in zip(perm, cells):
                cost += dist[b]
            best = min(best, cost)
        if len(self._hbox) > MAX_LAZY_ENTRIES:
            self._hbox.clear()
        self._hbox[boxes] = best = best if best < _INF else _INF
        return best

    def _heuristic(self, player: int, boxes: int) -> int:
        h = self._box_heuristic(boxes)
        if h == 0 or h >= _INF:
            return h
        # Before the first push the player must walk next to some box.
        pr, pc, rows, cols = self._rows[player], self._cols[player], self._rows, self._cols
        walk = min(abs(rows[b] - pr) + abs(cols[b] - pc) for b in box_cells(boxes)) - 1
        return h + walk

    def _frozen(self, boxes: int, b: int, path: set[int], group: list[int]) -> bool:
        """Whether the box on ``b`` can never move again (Sokoban wiki's freeze test).

        Boxes in ``path`` count as walls: the recursion asks "is this neighbour stuck if
        the boxes that depend on it are?". ``group`` collects the boxes shown frozen.
        """
        wall, dead, w = self.level.wall, self.dead, self.level.width
        path.add(b)
        found: list[int] = []
        frozen = True
        for a, c in ((b - 1, b + 1), (b - w, b + w)):
            if wall[a] or wall[c] or a in path or c in path:
                continue
            if dead[a] and dead[c]:
                continue  # moving along this axis would put the box on a dead square
            if boxes >> a & 1 and self._frozen(boxes, a, path, found):
                continue
            if boxes >> c & 1 and self._frozen(boxes, c, path, found):
                continue
            frozen = False
            break
        path.discard(b)
        if frozen:
            group.append(b)
            group.extend(found)
        return frozen

    def is_freeze_deadlock(self, boxes: int, b: int) -> bool:
        """Whether the box on ``b`` is frozen together with a box that is off target."""
        group: list[int] = []
        if not self._frozen(boxes, b, set(), group):
            return False
        goal = self.level.targets_mask
        return any(not goal >> x & 1 for x in group)

    def _start_is_dead(self, boxes: int) -> bool:
        return any(self.dead[b] or self.is_freeze_deadlock(boxes, b) for b in box_cells(boxes))

    def _astar(self, start: int, node_limit: int | None) -> bool:
        """Search from ``start`` until a solved state or a state with a known distance.

        Records the path found (or, after an exhaustive search, every visited state as
        unsolvable) in the table; returns ``False`` only when ``node_limit`` was hit.
        """
        table, shift, pmask = self._table, self.shift, self._pmask
        level = self.level
        wall, dead, deltas, goal = level.wall, self.dead, level.deltas, level.targets_mask
        if len(table) > MAX_LAZY_ENTRIES:
            table.clear()
        p0, b0 = start & pmask, start >> shift
        h0 = self._heuristic(p0, b0)
        if h0 >= _INF or self._start_is_dead(b0):
            table[start] = UNSOLVABLE
            return True
        g: dict[int, int] = {start: 0}
        parent: dict[int, tuple[int, int]] = {}
        heap: list[tuple[int, int, int]] = [(h0, 0, start)]
        expanded = 0
        while heap:
            _, neg_g, key = heapq.heappop(heap)
            gk = -neg_g
            if gk > g[key]:
                continue  # stale entry
            boxes = key >> shift
            entry = 0 if boxes == goal else table.get(key)
            if entry is not None and entry >= 0:
                self._record(start, key, parent, entry >> 2)
                return True
            expanded += 1
            if node_limit is not None and expanded > node_limit:
                return False
            player = key & pmask
            ng = gk + 1
            for move, d in enumerate(deltas):
                t = player + d
                if wall[t]:
                    continue
                nb = boxes
                if boxes >> t & 1:
                    u = t + d
                    if wall[u] or dead[u] or boxes >> u & 1:
                        continue
                    nb = boxes ^ (1 << t) ^ (1 << u)
                    if self.is_freeze_deadlock(nb, u):
                        continue
                nk = nb << shift | t
                if ng >= g.get(nk, _INF):
                    continue
                known = table.get(nk)
                if known is not None:
                    if known < 0:
                        continue
                    h = known >> 2
                else:
                    h = self._heuristic(t, nb)
                    if h >= _INF:
                        continue
                g[nk] = ng
                parent[nk] = (key, move)
                heapq.heappush(heap, (ng + h, -ng, nk))
        for key in g:
            table[key] = UNSOLVABLE
        return True

    def _record(self, start: int, end: int, parent: dict[int, tuple[int, int]], rest: int) -> None:
        """Store the distances of the states on the path ``start -> end`` (``end`` is
        ``rest`` moves from solved)."""
        chain: list[tuple[int, int]] = []
        key = end
        while key != start:
            prev, move = parent[key]
            chain.append((prev, move))
            key = prev
        table = self._table
        if end >> self.shift == self.level.targets_mask:
            table[end] = 0
        for steps, (key, move) in enumerate(chain, start=1):
            table[key] = (rest + steps) << 2 | move


def _occupancy(boxes: int, cells: int) -> bytearray:
    """``cells`` bytes, 1 where ``boxes`` has a box."""
    occupied = bytearray(cells)
    for b in box_cells(boxes):
        occupied[b] = 1
    return occupied


#: Levels whose solver (and tables) :func:`solver_for` keeps, least recently used dropped.
SOLVER_CACHE_SIZE = 64
_solvers: OrderedDict[Level, SokobanSolver] = OrderedDict()
_solvers_lock = threading.Lock()


def solver_for(level: Level) -> SokobanSolver:
    """The shared solver of ``level`` (its tables survive across episodes on that level)."""
    with _solvers_lock:
        solver = _solvers.get(level)
        if solver is None:
            solver = _solvers[level] = SokobanSolver(level)
            if len(_solvers) > SOLVER_CACHE_SIZE:
                _solvers.popitem(last=False)
        else:
            _solvers.move_to_end(level)
        return solver


def share_solver(solver: SokobanSolver) -> None:
    """Offer ``solver`` as the shared one of its level, unless the level has one already
    (the level generator hands over the tables it built while checking a level)."""
    with _solvers_lock:
        if solver.level in _solvers:
            _solvers.move_to_end(solver.level)
            return
        _solvers[solver.level] = solver
        if len(_solvers) > SOLVER_CACHE_SIZE:
            _solvers.popitem(last=False)
