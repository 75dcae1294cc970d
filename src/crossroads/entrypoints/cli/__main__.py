"""`python -m crossroads.entrypoints.cli`: the command line without its console script (how the
demo starts its sources' process, and how tests run it)."""

from . import main

main()
