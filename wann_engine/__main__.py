import sys

try:  # a Ctrl-C while the engine is still loading ends as quietly as one later on
    from .cli import main
except KeyboardInterrupt:
    print("wann-engine: interrupted", file=sys.stderr)
    sys.exit(130)

main()
