"""Package data: installed as part of the `streams` package (see setup.py and
streams/resources.py), so an installed `nezlam` finds these files in any directory."""
