"""`python -m mcdenoise` runs the command-line interface."""

from mcdenoise.cli import main

if __name__ == "__main__":
    main()
