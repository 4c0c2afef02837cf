"""``embedforge train --nproc N``, and the CLI under a launcher (torchrun, accelerate launch): docs/distributed.md."""

from __future__ import annotations

import argparse
import io

from embedforge.cli.output import Console

__all__ = ["launch_with_torchrun", "rank_console"]


def rank_console(args: argparse.Namespace) -> Console:
    """The console; silent on launched processes other than rank 0, which reports for all of them."""
    from embedforge.training.launch import launched_rank

    console = Console.from_args(args)
    return console if launched_rank() == 0 else Console(mode=console.mode, out=io.StringIO(), err=io.StringIO())


def launch_with_torchrun(args: argparse.Namespace) -> int:
    """``--nproc N``: run this command without ``--nproc`` on N processes started by torchrun."""
    from embedforge.training.launch import is_launched, run_torchrun

    if is_launched():
        Console.from_args(args).error(
            f"--nproc {args.nproc}: this process was already started by a launcher (WORLD_SIZE is set); drop "
            "--nproc when running under torchrun or accelerate launch"
        )
        return 1
    words = ["train", args.recipe, *args.overrides, *(["--output-dir", args.output_dir] if args.output_dir else [])]
    words += (["--resume"] if args.resume else []) + (["--json"] if args.json else ["--quiet"] if args.quiet else [])
    return run_torchrun(args.nproc, words)
