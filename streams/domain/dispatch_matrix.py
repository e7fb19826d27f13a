"""What both routing solvers are given: the nodes of a dispatch problem and their matrices.

Pure. A node per depot, then one per point a truck could reach at all (coordinates known, the
deadline still ahead). Travel seconds are rounded up, so a route re-timed exactly
(:func:`streams.domain.dispatch.route`) keeps every deadline a solver kept; metres are the
cost both solvers minimise once they reach what they can.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from streams.domain.dispatch import Instance, Need, Place, Truck


@dataclass(frozen=True, slots=True)
class Matrices:
    """Nodes ``0..len(depots)-1`` are the depots, then :attr:`candidates` in order, then the
    start of each truck already out on a committed run (:attr:`start_nodes`)."""

    candidates: tuple[Need, ...]
    depot_nodes: dict[str, int]  # depot_id -> node
    metres: list[list[int]]
    seconds: list[list[int]]
    stop_seconds: int
    start_nodes: dict[str, int] = field(default_factory=dict)  # truck_id -> node

    def is_point(self, node: int) -> bool:
        """Whether ``node`` is a point that needs fuel (not a depot, not a truck's start)."""
        return self.n_depots <= node < self.n_depots + len(self.candidates)

    def start(self, truck: Truck) -> int:
        """Where ``truck`` starts: its committed run's last stop, or its depot."""
        return self.start_nodes.get(truck.truck_id, self.depot_nodes[truck.depot_id])

    @property
    def n_depots(self) -> int:
        """How many nodes are depots."""
        return len(self.depot_nodes)

    def need(self, node: int) -> Need:
        """The point of a (non-depot) node."""
        return self.candidates[node - self.n_depots]


def candidates(instance: Instance) -> list[Need]:
    """The points any truck could serve at all: coordinates known, deadline ahead."""
    return [n for n in instance.needs if n.place is not None and n.deadline_h > 0]


def matrices(instance: Instance) -> Matrices:
    """The instance's nodes, road metres and driving seconds between them."""
    chosen = candidates(instance)
    places: list[Place] = [d.place for d in instance.depots]
    places += [n.place for n in chosen if n.place is not None]
    out = [t for t in instance.trucks if t.start is not None]
    start_nodes = {t.truck_id: len(places) + i for i, t in enumerate(out)}
    places += [t.start for t in out if t.start is not None]
    travel = instance.travel
    return Matrices(
        tuple(chosen),
        {d.depot_id: i for i, d in enumerate(instance.depots)},
        [[round(travel.km(a, b) * 1000) for b in places] for a in places],
        [[math.ceil(travel.hours(a, b) * 3600) for b in places] for a in places],
        math.ceil(travel.stop_minutes * 60),
        start_nodes,
    )
