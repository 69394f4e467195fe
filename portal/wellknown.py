"""/.well-known files that let native apps use this site's passkeys (README "Two-step sign-in").

Android's Credential Manager and iOS's AuthenticationServices only offer a site's passkeys in
an app the site names: Digital Asset Links (`assetlinks.json`) and the Apple App Site
Association (`webcredentials`). Both come from configuration (WEBAUTHN_ANDROID_APPS,
WEBAUTHN_IOS_APPS); unset, they are 404. Add each app's origin to WEBAUTHN_ORIGINS too
(Android: "android:apk-key-hash:<base64url SHA-256 of the signing certificate>")."""

from flask import Blueprint, abort, current_app, jsonify

bp = Blueprint("wellknown", __name__, url_prefix="/.well-known")


def _entries(name: str) -> list[str]:
    return [item.strip() for item in current_app.config[name].split(",") if item.strip()]


def android_statements() -> list[dict]:
    """One statement per package: "com.example.app:AB:CD:..." (fingerprints may repeat)."""
    fingerprints: dict[str, list[str]] = {}
    for entry in _entries("WEBAUTHN_ANDROID_APPS"):
        package, _, fingerprint = entry.partition(":")
        if package and fingerprint:
            fingerprints.setdefault(package, []).append(fingerprint.upper())
    return [
        {
            "relation": ["delegate_permission/common.get_login_creds"],
            "target": {
                "namespace": "android_app",
                "package_name": package,
                "sha256_cert_fingerprints": prints,
            },
        }
        for package, prints in fingerprints.items()
    ]


@bp.get("/assetlinks.json")
def assetlinks():
    statements = android_statements()
    if not statements:
        abort(404)
    return jsonify(statements)


@bp.get("/apple-app-site-association")
def apple_app_site_association():
    apps = _entries("WEBAUTHN_IOS_APPS")
    if not apps:
        abort(404)
    return jsonify({"webcredentials": {"apps": apps}})
