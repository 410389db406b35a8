from kauditcfg.cli import main

main()
