"""docker-compose.yml and the nginx template, checked without Docker (none runs here): the
rules of the deployment (README "Operations", issue 10). `make test` also validates the file
against the compose schema and runs `nginx -t` on the template (make check-deploy)."""

import re
from pathlib import Path

import yaml
from servers import ROOT, need, render_nginx

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APPS = ["app1", "app2", "app3"]
# Every service that runs the portal's image.
PORTAL = [name for name, service in SERVICES.items() if service.get("image") == "portal:latest"]


def command(name: str) -> str:
    value = SERVICES[name].get("command", "")
    return " ".join(value) if isinstance(value, list) else value


def test_the_deployment_has_every_process():
    assert set(SERVICES) == {*APPS, "nginx", "db", "redis", "migrate", "mail-worker", "prune"}
    assert set(PORTAL) == {*APPS, "migrate", "mail-worker", "prune"}
    assert command("migrate") == "flask --app portal db upgrade"
    assert command("mail-worker") == "flask --app portal mail worker"
    assert "flask --app portal maintenance prune" in command("prune")
    for app in APPS:
        assert "command" not in SERVICES[app]  # the image's gunicorn


def test_only_nginx_is_reached_from_outside():
    published = [name for name, service in SERVICES.items() if service.get("ports")]
    assert published == ["nginx"]


def test_the_apps_trust_one_proxy_and_nothing_else_trusts_any():
    for name in PORTAL:
        hops = SERVICES[name]["environment"].get("PROXY_FIX_HOPS")
        assert hops == ("1" if name in APPS else None), name


def test_migrations_run_once_before_any_portal_process():
    migrate = SERVICES["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"]["db"]["condition"] == "service_healthy"
    for name in set(PORTAL) - {"migrate"}:
        depends = SERVICES[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["redis"]["condition"] == "service_healthy", name


def test_postgresql_and_redis_have_health_checks():
    assert "pg_isready" in " ".join(SERVICES["db"]["healthcheck"]["test"])
    assert SERVICES["redis"]["healthcheck"]["test"][-1] == "ping"


def test_every_portal_process_shares_the_same_settings():
    """The mail worker opens what the apps sealed (SECRET_KEY / MFA_KEYS) and every process
    counts limits in the same Redis."""
    settings = [SERVICES[name]["environment"] for name in PORTAL]
    for key in ("SECRET_KEY", "MFA_KEYS", "DATABASE_URL", "RATELIMIT_STORAGE_URI"):
        assert len({s[key] for s in settings}) == 1, key
    assert {s["PORTAL_ENV"] for s in settings} == {"production"}
    assert {s["MAIL_DELIVERY"] for s in settings} == {"worker"}


def test_compose_renders_the_one_nginx_template_with_the_app_servers():
    nginx = SERVICES["nginx"]
    mount, target, _ = nginx["volumes"][0].split(":")
    assert (ROOT / mount).resolve() == render_nginx.TEMPLATE
    assert target.startswith("/etc/nginx/templates/") and target.endswith(".template")
    env = nginx["environment"]
    values = {name: env[name] for name in render_nginx.placeholders()}
    assert values == render_nginx.COMPOSE_VALUES
    assert all(re.search(env["NGINX_ENVSUBST_FILTER"], name) for name in values)
    servers = re.findall(r"server (\S+):8000;", values["PORTAL_UPSTREAM_SERVERS"])
    assert servers == APPS
    assert set(nginx["depends_on"]) == set(APPS)

    rendered = render_nginx.render(values)
    assert "${" not in rendered
    assert "server app1:8000; server app2:8000; server app3:8000;" in rendered


def test_nginx_sets_x_forwarded_for_itself_and_hides_metrics():
    template = render_nginx.TEMPLATE.read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in template
    assert "$proxy_add_x_forwarded_for" not in template  # never the client's own list
    assert re.search(r"location = /metrics \{\s*return 404;", template)


def test_the_local_rendering_passes_nginx_t():
    assert render_nginx.check(need(render_nginx.find_nginx(), "nginx (Debian's package)")) == 0


def test_the_image_serves_with_gunicorn_and_checks_its_health():
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r'^CMD \["gunicorn", "--bind", "0\.0\.0\.0:8000"', dockerfile, re.M)
    assert "HEALTHCHECK" in dockerfile
    assert re.search(r"^USER 10001$", dockerfile, re.M)  # not root
    assert Path(ROOT / "deploy" / "nginx" / "portal.conf.template").exists()
