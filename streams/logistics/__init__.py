"""Getting fuel to the generators: the refuel plan (who needs fuel, most urgent first) and the
dispatch plan (which truck goes where), read from the database and the depots file, with their
``nezlam refuel-plan`` and ``nezlam dispatch-plan`` commands.

Imports ``streams.domain`` (the dispatch model and solver), ``streams.config`` and
``streams.alerting``; never the worker.
"""
