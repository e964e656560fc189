from vanfed.cli import main

main()
