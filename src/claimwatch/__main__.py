"""`python -m claimwatch` is the `claimwatch` command."""

from claimwatch.cli import main

main()
