"""Command line: ``python -m scripts.bench [run|scale] [options]``."""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from pathlib import Path

from scripts.bench.benchmark import (
    BENCH_FLEET,
    BENCH_TIME_SCALE,
    BenchConfig,
    BenchmarkError,
    run_benchmark,
)
from scripts.bench.fleet import FleetSpec
from scripts.bench.harness import HarnessError
from scripts.bench.machine import describe_machine
from scripts.bench.report import (
    bench_markdown,
    scale_markdown,
    update_section,
    write_json,
)
from scripts.bench.scale import SCALE_TIME_SCALE, run_scale
from scripts.localstack import REPO_ROOT, StackError

logger = logging.getLogger("scripts.bench")

DEFAULT_OUTPUT = REPO_ROOT / ".bench"
DEFAULT_PAGE = REPO_ROOT / "docs" / "benchmarks.md"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m scripts.bench",
        description="Measure the image factory on the local stack and record the results.",
    )
    parser.add_argument(
        "mode",
        nargs="?",
        choices=("run", "scale"),
        default="run",
        help="run: the pipeline benchmark (default); scale: large first runs at no latency",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where JSON results go (default .bench)",
    )
    parser.add_argument(
        "--page",
        type=Path,
        default=DEFAULT_PAGE,
        help="Markdown page to update (default docs/benchmarks.md)",
    )
    parser.add_argument("--images", type=int, help="images in the fleet")
    parser.add_argument("--labs", type=int, help="team labs in the fleet")
    parser.add_argument(
        "--time-scale",
        type=float,
        help=f"wall seconds per Azure second (run: {BENCH_TIME_SCALE:.4f}, scale: {SCALE_TIME_SCALE:g})",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the emulator's durations (default 1)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=4 * 3600,
        help="seconds a run may take (default 14400)",
    )
    parser.add_argument(
        "--keep-state", action="store_true", help="keep the stacks' state directories"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("azure").setLevel(logging.WARNING)
    state_root = Path(tempfile.mkdtemp(prefix="factory-bench-"))
    try:
        if args.mode == "scale":
            _scale(args, state_root)
        else:
            _bench(args, state_root)
    except StackError as exc:
        logger.error("the local stack failed: %s", exc)
        return 1
    except (BenchmarkError, HarnessError) as exc:
        logger.error("the benchmark failed: %s", exc)
        return 1
    finally:
        if args.keep_state:
            logger.info("state directories kept in %s", state_root)
        else:
            shutil.rmtree(state_root, ignore_errors=True)
    return 0


def _bench(args: argparse.Namespace, state_root: Path) -> None:
    fleet = BENCH_FLEET
    if args.images or args.labs:
        fleet = FleetSpec(
            images=args.images or fleet.images,
            labs=args.labs or fleet.labs,
            seed=fleet.seed,
            max_extra_artifacts=fleet.max_extra_artifacts,
        )
    config = BenchConfig(
        fleet=fleet,
        time_scale=args.time_scale or BENCH_TIME_SCALE,
        emulator_seed=args.seed,
    )
    results = run_benchmark(config, state_root / "bench")
    write_json(args.output_dir / "results.json", results)
    update_section(args.page, "bench", bench_markdown(results))
    logger.info("wrote %s and %s", args.output_dir / "results.json", args.page)


def _scale(args: argparse.Namespace, state_root: Path) -> None:
    sizes = [(args.images or 200, args.labs or 50)]
    if not (args.images or args.labs):
        sizes.insert(0, (20, 10))
    machine = describe_machine()
    results = []
    for images, labs in sizes:
        logger.info("scale run: %d images x %d team labs", images, labs)
        result = run_scale(
            FleetSpec(images=images, labs=labs, seed=args.seed),
            state_root / f"scale-{images}x{labs}",
            args.timeout,
            args.time_scale or SCALE_TIME_SCALE,
        )
        results.append(result.to_dict())
        write_json(
            args.output_dir / "scale.json", {"machine": machine, "runs": results}
        )
    machine["load_average_after"] = describe_machine()["load_average"]
    write_json(args.output_dir / "scale.json", {"machine": machine, "runs": results})
    update_section(args.page, "scale", scale_markdown(results, machine))
    logger.info("wrote %s and %s", args.output_dir / "scale.json", args.page)


if __name__ == "__main__":
    sys.exit(main())
