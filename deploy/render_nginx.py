#!/usr/bin/env python3
"""Render deploy/nginx/portal.conf.template the way docker compose's nginx does, for local
ports: `nginx -t` here (and the tests' nginx in front of gunicorn) use the same template as
the deployment. Standard library only.

    render_nginx.py local --prefix DIR --listen 127.0.0.1:8080 --app 127.0.0.1:8001 ...
        writes DIR/nginx.conf (a main config of its own: pid, temp paths and logs in DIR)
        and DIR/portal.conf (the rendered template); prints the path of DIR/nginx.conf.
        Run it with: nginx -p DIR -e stderr -c DIR/nginx.conf -g 'daemon off;'
    render_nginx.py compose
        prints the template as the compose service renders it (its environment's values).
    render_nginx.py check [--nginx PATH]
        renders for local ports into a temporary folder and runs `nginx -t` on it.

Compose's host names (app1, ...) do not resolve outside compose, and nginx resolves upstream
names when it loads its configuration: hence local ports for `nginx -t`.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DEPLOY = Path(__file__).resolve().parent
TEMPLATE = DEPLOY / "nginx" / "portal.conf.template"
COMPOSE_FILE = DEPLOY.parent / "docker-compose.yml"
# What compose gives the nginx service (docker-compose.yml says the same; a test compares).
COMPOSE_VALUES = {
    "PORTAL_LISTEN": "80",
    "PORTAL_UPSTREAM_SERVERS": "server app1:8000; server app2:8000; server app3:8000;",
}
PLACEHOLDER = re.compile(r"\$\{(PORTAL_[A-Z0-9_]+)\}")

MAIN = """\
# Rendered by deploy/render_nginx.py: a main configuration of its own around the portal's
# template, everything nginx writes kept under {prefix}.
worker_processes 1;
pid {prefix}/nginx.pid;
error_log stderr;

events {{
    worker_connections 256;
}}

http {{
    client_body_temp_path {prefix}/tmp/client_body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    default_type application/octet-stream;

    include {prefix}/portal.conf;
}}
"""


def render(values: dict[str, str]) -> str:
    """The template with its ${PORTAL_*} placeholders filled in, like the image's envsubst
    (which is limited to PORTAL_* names by NGINX_ENVSUBST_FILTER); a missing value fails."""
    text = TEMPLATE.read_text()
    missing = sorted(set(PLACEHOLDER.findall(text)) - values.keys())
    if missing:
        raise SystemExit(f"no value for {', '.join(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def placeholders() -> set[str]:
    return set(PLACEHOLDER.findall(TEMPLATE.read_text()))


def render_local(prefix: Path, listen: str, apps: list[str]) -> Path:
    """Write prefix/nginx.conf and prefix/portal.conf; returns the main file's path."""
    prefix = prefix.resolve()
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    servers = " ".join(f"server {app};" for app in apps)
    (prefix / "portal.conf").write_text(
        render({"PORTAL_LISTEN": listen, "PORTAL_UPSTREAM_SERVERS": servers})
    )
    main = prefix / "nginx.conf"
    main.write_text(MAIN.format(prefix=prefix))
    return main


def find_nginx() -> str | None:
    """Debian puts nginx in /usr/sbin, which a non-root PATH may lack."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None
    )


def check(nginx: str | None) -> int:
    nginx = nginx or find_nginx()
    if nginx is None:
        print("nginx is not installed (make nginx, or apt-get install nginx)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="portal-nginx-") as tmp:
        main = render_local(Path(tmp), "127.0.0.1:8080", ["127.0.0.1:8001", "127.0.0.1:8002"])
        result = subprocess.run(  # noqa: S603 - nginx with our own arguments
            [nginx, "-t", "-q", "-p", tmp, "-e", "stderr", "-c", str(main)],
            capture_output=True,
            text=True,
            check=False,
        )
    if result.returncode:
        print(result.stderr, file=sys.stderr, end="")
        return result.returncode
    print(f"{TEMPLATE.relative_to(DEPLOY.parent)}: nginx -t ok")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="render for local ports into a folder")
    local.add_argument("--prefix", type=Path, required=True)
    local.add_argument("--listen", required=True, help="host:port nginx listens on")
    local.add_argument("--app", action="append", required=True, help="host:port of an app")
    commands.add_parser("compose", help="print what the compose service renders")
    checker = commands.add_parser("check", help="nginx -t on a local rendering")
    checker.add_argument("--nginx", help="the nginx binary (default: found on PATH)")
    args = parser.parse_args(argv)

    if args.command == "local":
        print(render_local(args.prefix, args.listen, args.app))
    elif args.command == "compose":
        print(render(COMPOSE_VALUES), end="")
    else:
        return check(args.nginx)
    return 0


if __name__ == "__main__":
    sys.exit(main())
