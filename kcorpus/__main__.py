from kcorpus.cli import main

main()
