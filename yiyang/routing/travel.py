"""Travel-time models for the caregiver route planner.

The planner only needs one thing from a travel model: a square matrix of whole-second travel
durations between a list of points, for one travel mode.  Anything that implements
:class:`TravelTimeProvider` can be plugged in (for example a client for a road-network routing
service such as OSRM or Valhalla running inside the bureau's network); the default is
:class:`StraightLineTravel`, which uses the straight-line distance multiplied by a detour factor and a
fixed speed per travel mode.

Points are pairs of floats.  With ``geodesic=True`` (the default) they are ``(lat, lon)`` in degrees
(WGS-84 or GCJ-02: the offset between the two is nearly constant over a county, so distances are not
affected in any practical way); with ``geodesic=False`` they are already-projected ``(x, y)``
coordinates in metres.

This module is pure Python + numpy and has no Django dependency.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np

Point = tuple[float, float]
"""A location: ``(lat, lon)`` in degrees, or ``(x, y)`` in metres for projected coordinates."""

WALK = "walk"
EBIKE = "ebike"
CAR = "car"

DEFAULT_SPEEDS_KMH: Mapping[str, float] = {WALK: 4.5, EBIKE: 15.0, CAR: 25.0}
"""Default door-to-door speeds (km/h) per travel mode, applied to the detoured distance."""

DEFAULT_DETOUR_FACTOR = 1.3
"""Ratio between road distance and straight-line distance assumed by the straight-line model."""

EARTH_RADIUS_M = 6_371_008.8


@runtime_checkable
class TravelTimeProvider(Protocol):
    """Anything that can produce a travel-duration matrix.

    ``matrix(points, mode)`` must return a square ``numpy`` array of non-negative integer seconds
    with shape ``(len(points), len(points))`` whose entry ``[i, j]`` is the time to travel from
    ``points[i]`` to ``points[j]`` using travel mode ``mode`` (``"walk"``, ``"ebike"``, ``"car"`` or
    any other mode the provider understands).  The diagonal should be zero.  The matrix need not be
    symmetric.
    """

    def matrix(self, points: Sequence[Point], mode: str) -> np.ndarray: ...


def haversine_matrix_m(points: Sequence[Point]) -> np.ndarray:
    """Great-circle distances in metres between ``(lat, lon)`` points (float matrix)."""
    arr = np.asarray(points, dtype=float).reshape(-1, 2)
    lat = np.radians(arr[:, 0])
    lon = np.radians(arr[:, 1])
    dlat = lat[:, None] - lat[None, :]
    dlon = lon[:, None] - lon[None, :]
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:, None]) * np.cos(lat[None, :]) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def euclidean_matrix(points: Sequence[Point]) -> np.ndarray:
    """Euclidean distances between ``(x, y)`` points (float matrix, same unit as the points)."""
    arr = np.asarray(points, dtype=float).reshape(-1, 2)
    diff = arr[:, None, :] - arr[None, :, :]
    return np.sqrt((diff**2).sum(axis=2))


def distance_m(a: Point, b: Point, *, geodesic: bool = True) -> float:
    """Straight-line distance in metres between two points."""
    if geodesic:
        return float(haversine_matrix_m([a, b])[0, 1])
    return math.hypot(a[0] - b[0], a[1] - b[1])


@dataclass(frozen=True)
class StraightLineTravel:
    """Travel time = straight-line distance x detour factor / speed of the travel mode.

    Durations are rounded *up* to whole seconds so that the model never under-estimates, and the
    result is an ``int64`` matrix with a zero diagonal.
    """

    detour_factor: float = DEFAULT_DETOUR_FACTOR
    speeds_kmh: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SPEEDS_KMH))
    geodesic: bool = True

    def __post_init__(self) -> None:
        if self.detour_factor < 1.0:
            raise ValueError(f"detour_factor must be >= 1.0, got {self.detour_factor}")
        for mode, speed in self.speeds_kmh.items():
            if not speed > 0:
                raise ValueError(f"speed for travel mode {mode!r} must be positive, got {speed}")

    def speed_mps(self, mode: str) -> float:
        try:
            return self.speeds_kmh[mode] / 3.6
        except KeyError:
            known = ", ".join(sorted(self.speeds_kmh))
            raise ValueError(f"unknown travel mode {mode!r} (known: {known})") from None

    def distance_matrix_m(self, points: Sequence[Point]) -> np.ndarray:
        """Detoured (estimated road) distances in metres, as floats."""
        if len(points) == 0:
            return np.zeros((0, 0))
        straight = haversine_matrix_m(points) if self.geodesic else euclidean_matrix(points)
        return straight * self.detour_factor

    def matrix(self, points: Sequence[Point], mode: str) -> np.ndarray:
        speed = self.speed_mps(mode)
        seconds = np.ceil(self.distance_matrix_m(points) / speed - 1e-9)
        out = np.maximum(seconds, 0).astype(np.int64)
        np.fill_diagonal(out, 0)
        return out


def travel_seconds(travel: TravelTimeProvider, a: Point, b: Point, mode: str) -> int:
    """Travel time in seconds from ``a`` to ``b`` (convenience wrapper around ``matrix``)."""
    return int(travel.matrix([a, b], mode)[0, 1])
