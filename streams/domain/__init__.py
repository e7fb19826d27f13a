"""The pure core: per-point computations (fuel forecast, occupancy, liveness), the alert
rules and their lifecycle, the dispatch model. No clock, no I/O.

Imports nothing of the project outside ``streams.domain`` (a unit test keeps it so).
"""
