"""`cspolicy serve --policies DIR`: the decision service; `cspolicy serve-key`: a new API key.

Both need the `service` extra (`pip install 'cspolicy[service]'`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cspolicy.cli.output import errors, print_error
from cspolicy.diagnostics import CSPolicyError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("serve", help="serve decisions over HTTP (FastAPI, OpenAPI at /docs)")
    parser.add_argument("--policies", required=True, metavar="DIR", help="directory of policy sets")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument("--store", metavar="URL", help="decision store (SQLite file or database URL)")
    parser.add_argument("--api-keys", metavar="FILE", help="file of hashed API keys (see serve-key)")
    parser.add_argument(
        "--reload-on-change",
        action="store_true",
        help="reload when a policy file changes (SIGHUP always does)",
    )
    parser.add_argument("--poll-seconds", type=float, default=1.0, help="how often files are checked")
    parser.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    parser.add_argument(
        "--no-reuse-port",
        dest="reuse_port",
        action="store_false",
        help="with --workers above 1, all workers accept on one shared socket "
        "(default: one SO_REUSEPORT socket each, the kernel spreads connections)",
    )
    parser.add_argument("--threads", type=int, default=4, help="decision threads per process (default 4)")
    parser.add_argument(
        "--inline-max-bytes",
        type=int,
        default=32 * 1024,
        metavar="BYTES",
        help="decide a single snapshot up to this size on the event loop, not in a thread (0: never)",
    )
    parser.add_argument("--max-body", type=int, default=10 * 1024 * 1024, metavar="BYTES", help="body limit")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.set_defaults(handler=run)

    key = commands.add_parser("serve-key", help="make an API key for `serve --api-keys` and its hashed entry")
    key.add_argument("--name", required=True, help="who the key is for (logged with each call)")
    key.add_argument(
        "--scopes",
        default="decide",
        help="comma-separated: decide, records:read, admin (default decide)",
    )
    key.add_argument("--key", help="hash this key instead of making a new one")
    key.set_defaults(handler=run_key)


def run(args: argparse.Namespace) -> int:
    try:
        from cspolicy.service.keys import KeyFileError, KeyRing
        from cspolicy.service.registry import PolicyRegistry
        from cspolicy.service.server import serve
        from cspolicy.service.settings import ServiceSettings
    except ImportError as exc:
        errors.print(
            f"[red]the service needs the 'service' extra: pip install 'cspolicy[service]' ({exc})[/red]"
        )
        return 2
    from pydantic import ValidationError

    try:
        settings = ServiceSettings(
            policies=Path(args.policies),
            host=args.host,
            port=args.port,
            store=args.store,
            api_keys=Path(args.api_keys) if args.api_keys else None,
            reload_on_change=args.reload_on_change,
            poll_seconds=args.poll_seconds,
            max_body_bytes=args.max_body,
            threads=args.threads,
            inline_max_bytes=args.inline_max_bytes,
            workers=args.workers,
            reuse_port=args.reuse_port,
            log_level=args.log_level,
        )
    except ValidationError as exc:
        for error in exc.errors():
            errors.print(f"[red]--{'-'.join(str(p) for p in error['loc'])}: {error['msg']}[/red]")
        return 2
    try:
        if settings.api_keys is not None:
            KeyRing.load(settings.api_keys)  # a bad keys file stops the start, with its reason
        registry = PolicyRegistry(settings.policies)  # located problems, before listening
    except KeyFileError as exc:
        errors.print(f"[red]{exc}[/red]")
        return 1
    except CSPolicyError as exc:
        print_error(exc)
        return 1
    try:
        return serve(settings, registry if settings.workers == 1 else None)
    except CSPolicyError as exc:  # the store cannot be opened
        print_error(exc)
        return 1


def run_key(args: argparse.Namespace) -> int:
    from cspolicy.service.keys import Scope, hash_key, new_key

    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    allowed = [s.value for s in Scope]
    unknown = [s for s in scopes if s not in allowed]
    if unknown or not scopes:
        errors.print(
            f"[red]--scopes: unknown {', '.join(unknown) or '(none)'}; use {', '.join(allowed)}[/red]"
        )
        return 2
    key = args.key or new_key()
    if not args.key:
        print(f"# the key (give it to {args.name}; it is not stored anywhere):")
        print(f"# {key}")
    print(f"- name: {args.name}")
    print(f"  hash: {hash_key(key)}")
    print(f"  scopes: [{', '.join(scopes)}]")
    return 0
