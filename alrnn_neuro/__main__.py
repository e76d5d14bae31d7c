"""Allow ``python -m alrnn_neuro``."""

from alrnn_neuro.cli import main

if __name__ == "__main__":
    main()
