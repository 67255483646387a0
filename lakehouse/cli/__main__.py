from lakehouse.cli import main

main()
