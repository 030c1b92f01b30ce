from flowbox.cli import main

main()
