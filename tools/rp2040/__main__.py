"""python -m tools.rp2040 [--board pico] [--image F] [--port 7777] ...

An emulated Pico (MicroPython v1.28.0, RPI_PICO) with the pump around it,
served to the real mpremote on socket://127.0.0.1:PORT until Ctrl-C:

    make board-rp2040 BOARD=pico            # in one terminal
    make flash BOARD=pico PORT=socket://127.0.0.1:7777

The board's console is printed here. --save writes the flash image on exit
(start later runs from it with --image: a flash takes a minute of wall time).
"""
import argparse
import sys

from tools.rp2040 import chip
from tools.rp2040.bench import Bench


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m tools.rp2040", description=__doc__.split("\n\n")[1])
    ap.add_argument("--board", default="pico", help="a file in boards/ (an rp2 board) or a path")
    ap.add_argument("--image", help="start from this 2 MB flash image instead of the UF2 on an erased flash")
    ap.add_argument("--save", help="write the flash image here on exit")
    ap.add_argument("--port", type=int, default=7777, help="loopback TCP port for mpremote (0: any)")
    ap.add_argument("--flash-timing", default="typical", choices=sorted(chip.FLASH_TIMING))
    args = ap.parse_args(argv)
    why = chip.missing()
    if why and not args.image:
        print("rp2040: " + why, file=sys.stderr)
        return 2
    out = sys.stdout.buffer
    try:
        bench = Bench(args.board, image=args.image, flash_timing=args.flash_timing, listen=True, port=args.port,
                      echo=lambda b: (out.write(b), out.flush()))
    except (OSError, ValueError, chip.ChipError) as e:
        print("rp2040: %s" % e, file=sys.stderr)
        return 2
    print("emulated %s on socket://127.0.0.1:%d (Ctrl-C stops it)" % (bench.board["name"], bench.port),
          file=sys.stderr, flush=True)
    try:
        while True:
            bench.step()
    except KeyboardInterrupt:
        pass
    finally:
        if args.save:
            bench.save_image(args.save)
            print("flash image saved to " + args.save, file=sys.stderr)
        bench.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
