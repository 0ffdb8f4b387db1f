"""`portedge version` (also `portedge --version`)"""

from agent import __version__


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    print(f"portedge {__version__}")
    return 0
