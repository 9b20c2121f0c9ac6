from qualitycity.cli import main

main()
