"""Run the sympy derivation scripts; exit 1 if any identity does not simplify to zero."""

from __future__ import annotations


def add_arguments(parser) -> None:
    parser.add_argument("name", nargs="?", help="derivation to run (e.g. one_neuron)")
    parser.add_argument("--all", action="store_true", help="run every derivation")
    parser.add_argument("--latex", action="store_true", help="also print residuals as LaTeX")
    parser.add_argument("--list", action="store_true", help="list the derivations and exit")


def main(args) -> int:
    from lottery_core.errors import UsageError
    from theory.derivations import runner

    known = runner.available()
    if args.list:
        print("\n".join(known))
        return 0
    if args.all == bool(args.name):
        raise UsageError(f"give one derivation NAME or --all; known: {', '.join(known)}")
    try:
        ok = runner.run(known if args.all else [args.name], latex=args.latex)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    print("all identities hold" if ok else "MISMATCH: some identities do not hold")
    return 0 if ok else 1
