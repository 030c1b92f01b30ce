"""`python -m flowbox`, and the entry point of the one-file binary (`flowbox.spec`)."""

from flowbox.cli import main

main()
