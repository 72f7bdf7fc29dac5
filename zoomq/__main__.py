"""``python -m zoomq``: the same CLI as the ``zoomq`` script."""

from zoomq.cli import main

main()
