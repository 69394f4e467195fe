"""Profile: two-step sign-in (authenticator app, recovery codes) and passkeys.

Changing them needs a proof of identity from the last 10 minutes on this session: the
"Confirm it's you" form (password, plus a code once the app is on) or a passkey. Everything
works without JavaScript except passkeys, which need the browser's WebAuthn API; their
endpoints speak JSON to static/passkeys.js."""

from functools import wraps

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal.flows import FlowError, passkeys, reauth, totp
from portal.origin import Origin
from portal.profile import bp
from portal.profile.forms import ReauthForm, TotpConfirmForm
from portal.profile.pages import section, submitted
from portal.web import form_status, json_body, redirect_to

TWO_STEP = "#two-step"
PASSKEYS = "#passkeys"


def _profile(anchor: str = TWO_STEP):
    return url_for("profile.show") + anchor


def _button(anchor: str = TWO_STEP, *, proof: bool = True):
    """A button on the profile page. With `proof`, the view runs only within 10 minutes of
    "Confirm it's you" on this session. A FlowError it raises is flashed on the profile (one
    about a passkey that is not the account's is a 404)."""

    def decorate(view):
        @wraps(view)
        def run(*args, **kwargs):
            if proof and not reauth.is_recent(current_user.current_session):
                flash(
                    "Confirm it's you first: your password, and a code if you have two-step "
                    "sign-in.",
                    "info",
                )
                return redirect_to(_profile())
            try:
                return view(*args, **kwargs)
            except FlowError as error:
                if error.code == "not_found":
                    abort(404)
                flash(error.message, "error")
                return redirect_to(_profile(anchor))

        return run

    return decorate


@bp.post("/profile/confirm")
@login_required
@submitted(ReauthForm, section("reauth"))
def reauthenticate(form: ReauthForm):
    """ "Confirm it's you": the password (and a code once the app is on), good 10 minutes."""
    reauth.prove_identity(
        current_user,
        current_user.current_session,
        form.value("password"),
        Origin.of_request(),
        code=form.value("code"),
    )
    return redirect_to(_profile())


@bp.post("/profile/confirm/passkey/options")
@login_required
def reauth_passkey_options():
    challenge_id, options = passkeys.authentication_options(
        passkeys.REAUTH, current_user, current_user.current_session
    )
    return jsonify({"publicKey": options, "challenge_id": challenge_id})


@bp.post("/profile/confirm/passkey")
@login_required
def reauth_with_passkey():
    """ "Confirm it's you" with one of the account's passkeys (JSON from passkeys.js)."""
    body = json_body()
    try:
        passkeys.confirm_identity_with_passkey(
            current_user,
            current_user.current_session,
            body.get("challenge_id"),
            body.get("credential"),
            Origin.of_request(),
        )
    except FlowError as error:
        if error.code == "session_ended":
            return jsonify({"error": error.message, "redirect": url_for("auth.sign_in")}), 401
        return jsonify({"error": error.message}), 422
    return jsonify({"redirect": _profile()})


# -- authenticator app ------------------------------------------------------------------------


@bp.post("/profile/totp")
@login_required
@_button()
def start_totp():
    """Begin setting up the authenticator app (after "Confirm it's you")."""
    totp.begin_setup(current_user, current_user.current_session, None, Origin.of_request())
    return redirect_to(url_for("profile.totp_setup"))


@bp.route("/profile/totp/setup", methods=["GET", "POST"])
@login_required
def totp_setup():
    """The QR code and the secret as text; the first code from the app turns it on."""
    pending = totp.pending_setup(current_user)
    if pending is None:
        return redirect(_profile())
    form = TotpConfirmForm()
    if form.validate_on_submit():
        try:
            codes = totp.confirm_setup(
                current_user, current_user.current_session, form.value("code"), Origin.of_request()
            )
        except FlowError as error:
            form.show(error)
        else:
            return _show_recovery_codes(codes, "Two-step sign-in is on.")
    secret, uri = pending
    return render_template(
        "profile/totp_setup.html",
        form=form,
        qr_svg=totp.qr_svg(uri),
        secret=secret,
        secret_groups=[secret[i : i + 4] for i in range(0, len(secret), 4)],
        uri=uri,
    ), form_status(form)


def _show_recovery_codes(codes: list[str], heading: str):
    """Shown once: the page is never cached, and the codes are stored only hashed."""
    return render_template(
        "profile/recovery_codes.html",
        codes=codes,
        heading=heading,
        text="Portal recovery codes for {}\r\n\r\n{}\r\n".format(
            current_user.email, "\r\n".join(codes)
        ),
    )


@bp.post("/profile/totp/disable")
@login_required
@_button()
def disable_totp():
    totp.disable(current_user, current_user.current_session, None, Origin.of_request())
    flash("Two-step sign-in with the authenticator app is off.", "success")
    return redirect_to(_profile())


@bp.post("/profile/recovery-codes")
@login_required
@_button()
def new_recovery_codes():
    """Ten new recovery codes; the old ones stop working."""
    codes = totp.new_recovery_codes(
        current_user, current_user.current_session, None, Origin.of_request()
    )
    return _show_recovery_codes(codes, "New recovery codes")


# -- passkeys ---------------------------------------------------------------------------------


def _json_error(message: str, status: int = 422, **extra):
    return jsonify({"error": message, **extra}), status


@bp.post("/profile/passkeys/options")
@login_required
def passkey_options():
    """Creation options for a new passkey (JSON), once this session confirmed it's you."""
    if not reauth.is_recent(current_user.current_session):
        return _json_error(
            "Confirm it's you first (above), then add the passkey.", 403, reauth=True
        )
    try:
        options = passkeys.registration_options(
            current_user, current_user.current_session, None, Origin.of_request()
        )
    except FlowError as error:
        return _json_error(error.message)
    return jsonify({"publicKey": options})


@bp.post("/profile/passkeys")
@login_required
def add_passkey():
    """The new credential from passkeys.js (JSON), checked and kept."""
    body = json_body()
    try:
        passkey = passkeys.add_passkey(
            current_user,
            current_user.current_session,
            body.get("credential"),
            body.get("name"),
            Origin.of_request(),
        )
    except FlowError as error:
        return _json_error(error.message)
    flash(f"The passkey “{passkey.name}” is added: use it to sign in.", "success")
    return jsonify({"redirect": _profile(PASSKEYS)}), 201


@bp.post("/profile/passkeys/<passkey_id>/rename")
@login_required
@_button(PASSKEYS, proof=False)
def rename_passkey(passkey_id: str):
    passkey = passkeys.rename_passkey(
        current_user, passkey_id, request.form.get("name", ""), Origin.of_request()
    )
    flash(f"Renamed to “{passkey.name}”.", "success")
    return redirect_to(_profile(PASSKEYS))


@bp.post("/profile/passkeys/<passkey_id>/remove")
@login_required
@_button(PASSKEYS)
def remove_passkey(passkey_id: str):
    passkeys.remove_passkey(
        current_user, current_user.current_session, passkey_id, None, Origin.of_request()
    )
    flash("The passkey is removed: it no longer signs in.", "success")
    return redirect_to(_profile(PASSKEYS))
